/* The table: one row per figure, with its ceiling, the ratio and the target it must meet. */

export type Verdict = 'PASS' | 'FAIL' | 'info' | 'n/a';

export interface Row {
  scenario: string;
  store: string;
  figure: string;
  ceiling: string;
  ratio: string;
  target: string;
  verdict: Verdict;
  /** Footnotes: overlaps, errors, missing deliveries. */
  notes: string[];
}

export function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return '—';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function ms(value: number): string {
  if (!Number.isFinite(value)) return '—';
  if (Math.abs(value) >= 10_000) return `${fmt(value / 1000, 1)} s`;
  return `${fmt(value, Math.abs(value) < 10 ? 1 : 0)} ms`;
}

export function ratio(value: number): string {
  return Number.isFinite(value) ? value.toFixed(2) : '—';
}

export function verdict(ok: boolean | null): Verdict {
  if (ok === null) return 'n/a';
  return ok ? 'PASS' : 'FAIL';
}

export function renderTable(rows: readonly Row[], footer: readonly string[]): string {
  const headers = ['scenario', 'store', 'figure (median)', 'ceiling, same run', 'ratio', 'target', ''];
  const cells = rows.map((r) => [r.scenario, r.store, r.figure, r.ceiling, r.ratio, r.target, r.verdict]);
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]): string =>
    c
      .map((x, i) => x.padEnd(widths[i]!))
      .join(' │ ')
      .trimEnd();
  const out = [line(headers), widths.map((w) => '─'.repeat(w)).join('─┼─')];
  for (const c of cells) out.push(line(c));
  const notes = rows.flatMap((r) => r.notes.map((n) => `  ${r.scenario}/${r.store}: ${n}`));
  if (notes.length > 0) out.push('', 'Notes:', ...notes);
  if (footer.length > 0) out.push('', ...footer);
  return out.join('\n');
}
