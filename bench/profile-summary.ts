/*
 * Where a server's CPU went: reads a V8 .cpuprofile (node --cpu-prof, as `npm run bench --
 * --profile` writes them to bench/results/profiles/) and prints self time by function and by
 * module (project source, each package, node internals, GC, idle), and the server's own functions
 * by inclusive time (what they and everything they called took: e.g. the write batch's flush).
 *
 *   npx tsx bench/profile-summary.ts bench/results/profiles/<file>.cpuprofile [--top 30] [--from S --to S]
 *
 * --from/--to keep only the samples in that window, in seconds from the start of the profile
 * (about when the server process started): the bench prints the window of each dispatch phase.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function moduleOf(url: string, name: string): string {
  if (name === '(garbage collector)' || name === '(idle)' || name === '(program)' || name === '(root)') return name;
  if (url === '') return '(native / V8)';
  if (url.startsWith('node:')) return 'node:internal';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const dist = /\/dist\/(.+)$/.exec(url);
  if (dist) return `dist/${dist[1]!.split('/').slice(0, -1).join('/') || '.'}`;
  return url.replace(/^file:\/\//, '');
}

function main(): void {
  const args = process.argv.slice(2);
  const file = args.find((a, i) => !a.startsWith('--') && !(args[i - 1] ?? '').startsWith('--'));
  const num = (name: string, fallback: number): number => {
    const i = args.indexOf(`--${name}`);
    return i === -1 ? fallback : Number(args[i + 1]);
  };
  const top = num('top', 30);
  const fromUs = num('from', -Infinity) * 1e6;
  const toUs = num('to', Infinity) * 1e6;
  if (!file) {
    process.stderr.write('usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [--top 30]\n');
    process.exit(64);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let at = 0; // µs since the profile started
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < fromUs || at > toUs) continue;
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + delta);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self.entries()].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, t]) => a + t, 0);
  const busy = total - idle;

  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const inclusive = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  for (const [id, t] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    const mod = moduleOf(url, name);
    if (mod === '(idle)') continue;
    const short = url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/dist\//, 'dist/')}:${lineNumber + 1}` : '';
    const key = `${name} ${short}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + t);
    byModule.set(mod, (byModule.get(mod) ?? 0) + t);
    // Inclusive: the sample's time counts once for every project function on its stack.
    const onStack = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parentOf.get(cur)) {
      const frame = byId.get(cur)?.callFrame;
      const path = frame ? /\/dist\/(.+)$/.exec(frame.url) : null;
      if (frame && path) onStack.add(`${frame.functionName || '(anonymous)'} dist/${path[1]!}:${frame.lineNumber + 1}`);
    }
    for (const k of onStack) inclusive.set(k, (inclusive.get(k) ?? 0) + t);
  }
  const pct = (t: number): string => `${((100 * t) / busy).toFixed(1).padStart(5)}%`;
  const out: string[] = [];
  out.push(`${file}`);
  const window = Number.isFinite(fromUs) || Number.isFinite(toUs) ? ` (window ${fromUs / 1e6} s to ${toUs / 1e6} s)` : '';
  out.push(
    `wall ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s${window}, busy ${(busy / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s in the samples kept; shares below are of busy time`,
  );
  out.push('', 'By module (self time):');
  for (const [k, t] of [...byModule].sort((a, b) => b[1] - a[1]).slice(0, 25)) out.push(`  ${pct(t)}  ${k}`);
  out.push('', `Top ${top} functions (self time):`);
  for (const [k, t] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) out.push(`  ${pct(t)}  ${k}`);
  out.push('', `Top ${top} functions of the server (inclusive time):`);
  for (const [k, t] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) out.push(`  ${pct(t)}  ${k}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

main();
