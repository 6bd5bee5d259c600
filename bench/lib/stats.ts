/* Small statistics helpers: nearest-rank percentiles over a sample, and medians across runs. */

export interface Summary {
  n: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  min: number;
}

export function sorted(values: ArrayLike<number>): Float64Array {
  const copy = Float64Array.from(values);
  copy.sort();
  return copy;
}

/** Nearest-rank percentile of an ascending sample (q in 0..1); NaN for an empty sample. */
export function percentile(ascending: ArrayLike<number>, q: number): number {
  const n = ascending.length;
  if (n === 0) return NaN;
  const rank = Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1));
  return ascending[rank]!;
}

export function summarize(values: ArrayLike<number>): Summary {
  const s = sorted(values);
  let total = 0;
  for (const v of s) total += v;
  return {
    n: s.length,
    mean: s.length > 0 ? total / s.length : NaN,
    p50: percentile(s, 0.5),
    p90: percentile(s, 0.9),
    p99: percentile(s, 0.99),
    max: s.length > 0 ? s[s.length - 1]! : NaN,
    min: s.length > 0 ? s[0]! : NaN,
  };
}

/** Median of the finite values (the middle one, or the mean of the two middle ones); NaN when none. */
export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}
