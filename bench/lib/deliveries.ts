/** What the target recorded, turned into delivery figures. */
import type { BenchContext } from './context.js';
import { type Summary, summarize } from './stats.js';

export interface Deliveries {
  delivered: number;
  distinct: number;
  duplicates: number;
  firstAt: number;
  lastAt: number;
  /** arrival − due, ms (due from the task's params, or `fixedDue`). */
  latenessMs: Summary;
}

export async function readDeliveries(ctx: BenchContext, expected: number, fixedDue?: number): Promise<Deliveries> {
  const { at, due, index } = await ctx.target.call('records', null);
  const seen = new Uint8Array(Math.max(expected, 1));
  let distinct = 0;
  let duplicates = 0;
  let firstAt = Infinity;
  let lastAt = -Infinity;
  const lateness = new Float64Array(at.length);
  for (let k = 0; k < at.length; k++) {
    const i = index[k]!;
    if (i >= 0 && i < expected) {
      if (seen[i] === 0) {
        seen[i] = 1;
        distinct++;
      } else duplicates++;
    }
    const a = at[k]!;
    if (a < firstAt) firstAt = a;
    if (a > lastAt) lastAt = a;
    lateness[k] = a - (fixedDue ?? due[k]!);
  }
  return { delivered: at.length, distinct, duplicates, firstAt, lastAt, latenessMs: summarize(lateness) };
}

/**
 * The dispatch ceiling: the same `n` requests (same path, headers and body as the server sends)
 * straight from undici to the same target at the same concurrency, no server in between.
 * Answers requests per second from the first send to the last arrival.
 */
export async function undiciCeiling(ctx: BenchContext, n: number): Promise<{ rate: number; errors: number; durationMs: number }> {
  await ctx.target.call('reset', { expected: n });
  const burst = await ctx.loadgen.call('burst', { origin: ctx.targetUrl, n, concurrency: ctx.options.concurrency, due: Date.now() }, 300_000);
  const got = await readDeliveries(ctx, n);
  const durationMs = Math.max(1, got.lastAt - burst.startedAt);
  return { rate: (got.distinct / durationMs) * 1000, errors: burst.errors, durationMs };
}
