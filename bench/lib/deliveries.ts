/* What the target recorded, turned into delivery figures. */
import type { BatchResult } from '../children/loadgen.js';
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

/** A dispatcher's warm-up batch: its size, its delivery rate (the dispatcher still cold) and its calibration probe's count. */
export interface WarmUp {
  tasks: number;
  rate: number;
  probed: number;
}

/**
 * Makes a dispatcher (the server, BullMQ's worker) deliver `dispatchWarmup` requests to the target
 * before its measured batch, as the ceiling's client sends as many first on its pool: without it,
 * a fresh process is measured while V8 compiles its dispatch path and its connections open (the
 * load generator, which measures the ceiling, has run thousands of requests before). `add` adds
 * the batch, all due at once; `settled` waits until the dispatcher has finished with it.
 */
export async function warmUp(
  ctx: BenchContext,
  add: (n: number) => Promise<BatchResult>,
  settled: (batch: BatchResult) => Promise<void>,
): Promise<WarmUp> {
  const n = ctx.options.sizes.dispatchWarmup;
  if (n === 0) return { tasks: 0, rate: NaN, probed: 0 };
  await ctx.target.call('reset', { expected: n });
  const batch = await add(n);
  await ctx.waitForTarget(batch.ok, batch.dueStart + 120_000 + n);
  await settled(batch);
  const got = await readDeliveries(ctx, n, batch.dueStart);
  return { tasks: n, rate: (got.distinct / Math.max(1, got.lastAt - batch.dueStart)) * 1000, probed: batch.probed };
}

/**
 * The dispatch ceiling: the same `n` requests (same path, headers and body as the server sends)
 * straight from undici to the same target at the same concurrency, no server in between, after
 * `dispatchWarmup` requests on the same pool (not counted). Answers requests per second from the
 * first counted send to the last arrival.
 */
export async function undiciCeiling(ctx: BenchContext, n: number): Promise<{ rate: number; errors: number; durationMs: number }> {
  await ctx.target.call('reset', { expected: n });
  const burst = await ctx.loadgen.call(
    'burst',
    { origin: ctx.targetUrl, n, concurrency: ctx.options.concurrency, due: Date.now(), warmup: ctx.options.sizes.dispatchWarmup },
    300_000,
  );
  const got = await readDeliveries(ctx, n);
  const durationMs = Math.max(1, got.lastAt - burst.startedAt);
  return { rate: (got.distinct / durationMs) * 1000, errors: burst.errors, durationMs };
}
