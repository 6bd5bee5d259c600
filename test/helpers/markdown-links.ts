/*
 * What the docs test needs of Markdown to check links: the relative links a file makes and the
 * anchors its headings get on GitHub. Enough of Markdown for the project's docs, not a parser:
 * fenced code blocks and inline code spans hold no links, and only ATX headings (`## …`) are used.
 */

/** A relative link: its target as written (`file.md#anchor`, `#anchor`) and the line it is on. */
export interface RelativeLink {
  target: string;
  line: number;
}

/** The text with every fenced code block's lines and every inline code span blanked, lines kept. */
function withoutCode(markdown: string): string {
  let fenced = false;
  return markdown
    .split('\n')
    .map((line) => {
      if (/^\s*(```|~~~)/.test(line)) {
        fenced = !fenced;
        return '';
      }
      return fenced ? '' : line.replace(/`+[^`]*`+/g, (span) => ' '.repeat(span.length));
    })
    .join('\n');
}

/** A link's target is relative unless it names a scheme (`https:`, `mailto:`) or starts at the root. */
const isRelative = (target: string): boolean => !/^[a-z][a-z0-9+.-]*:/i.test(target) && !target.startsWith('/');

/**
 * The relative links (and images) of a Markdown text, inline (`[text](target "title")`), outside
 * code. The text of a link may run over lines.
 */
export function relativeLinks(markdown: string): RelativeLink[] {
  const text = withoutCode(markdown);
  const links: RelativeLink[] = [];
  for (const match of text.matchAll(/\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    const target = match[1]!;
    if (!isRelative(target)) continue;
    const end = match.index + match[0].length;
    links.push({ target, line: text.slice(0, end).split('\n').length });
  }
  return links;
}

/**
 * GitHub's anchor for a heading's text (github-slugger): the text as shown (a link's text, not its
 * target), lower case, every character but letters, digits, marks, `_`, `-` and spaces dropped
 * (backticks and other punctuation too), each space a `-`.
 */
export function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a Markdown text's headings, as GitHub makes them: a repeated one gets `-1`, `-2`, … */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (!heading) continue;
    const base = slug(heading[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}
