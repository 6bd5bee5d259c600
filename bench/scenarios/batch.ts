/*
 * 7. Batch subscribe throughput: POST /v1beta/subscribe/batch with 1,000 of the ~1 KB subscribe
 * bodies each, at BATCH_CONNECTIONS connections for the subscribe scenario's time (after its
 * warm-up), against a fresh server on a fresh store. Figure: tasks queued per second, and the
 * server's CPU per task; every item must be queued (taskInQueue is checked after the load).
 */
import { subscribeBody } from '../lib/bodies.js';
import { type BenchContext, authHeaders, log } from '../lib/context.js';
import type { StoreName } from '../lib/options.js';
import { cpuMeter } from '../lib/procs.js';
import { type Row, fmt, ms, verdict } from '../lib/report.js';
import { median } from '../lib/stats.js';

/** Subscribe bodies per request: the route's most. */
export const BATCH_ITEMS = 1_000;
/** A few batches in flight: the server parses one while the store commits another. */
const BATCH_CONNECTIONS = 4;
/** Tasks per second each store must take in batches (the target). */
const TARGETS: Record<StoreName, number> = { sqlite: 40_000, redis: 20_000 };

export interface BatchRun {
  tasksPerSecond: number;
  /** Latency of one batch request. */
  p50: number;
  p99: number;
  errors: number;
  /** Tasks the answers said were queued against those the store holds: equal when every item was. */
  tasksAnswered: number;
  tasksStored: number;
  serverCpuSeconds: number;
  serverMainCpuSeconds: number;
  /** The whole server process's CPU per task queued (warm-up included), and its main thread's. */
  serverUsPerTask: number;
  serverMainUsPerTask: number;
  redisCpuSeconds: number;
  errorSamples: string[];
}

async function oneRun(ctx: BenchContext, store: StoreName): Promise<BatchRun> {
  const server = await ctx.startServer(store, 'batch');
  try {
    const creds = await ctx.register(server);
    const item = subscribeBody({ target: ctx.targetUrl, executionDelay: '1h' });
    const body = `[${Array.from({ length: BATCH_ITEMS }, () => item).join(',')}]`;
    const meter = cpuMeter({
      server: server.pid,
      serverMain: { pid: server.pid, thread: server.pid },
      redis: store === 'redis' ? ctx.redisPid : -1,
    });
    const { sizes } = ctx.options;
    const result = await ctx.loadgen.call(
      'load',
      {
        origin: server.url,
        path: '/v1beta/subscribe/batch',
        headers: authHeaders(creds),
        body,
        connections: BATCH_CONNECTIONS,
        warmupMs: sizes.subscribeWarmupMs,
        durationMs: sizes.subscribeMs,
        expectStatus: 200,
      },
      sizes.subscribeWarmupMs + sizes.subscribeMs + 120_000,
    );
    const cpu = meter();
    const tasksStored = await ctx.taskInQueue(server, creds);
    const tasksAnswered = result.answered * BATCH_ITEMS;
    return {
      tasksPerSecond: result.rps * BATCH_ITEMS,
      p50: result.latencyMs.p50,
      p99: result.latencyMs.p99,
      errors: result.errors,
      tasksAnswered,
      tasksStored,
      serverCpuSeconds: cpu.server!,
      serverMainCpuSeconds: cpu.serverMain!,
      serverUsPerTask: (cpu.server! * 1e6) / tasksStored,
      serverMainUsPerTask: (cpu.serverMain! * 1e6) / tasksStored,
      redisCpuSeconds: cpu.redis!,
      errorSamples: result.errorSamples,
    };
  } finally {
    await server.stop();
  }
}

export async function batchScenario(ctx: BenchContext, store: StoreName): Promise<{ runs: BatchRun[]; rows: Row[] }> {
  const runs: BatchRun[] = [];
  for (let i = 0; i < ctx.options.runs; i++) {
    const run = await oneRun(ctx, store);
    runs.push(run);
    log(
      `batch/${store} run ${i + 1}: ${fmt(run.tasksPerSecond)} tasks/s in batches of ${fmt(BATCH_ITEMS)}, p50 ${ms(run.p50)} p99 ${ms(run.p99)} per batch, errors ${run.errors}` +
        ` | server CPU ${fmt(run.serverUsPerTask, 1)} µs/task (main thread ${fmt(run.serverMainUsPerTask, 1)})` +
        ` | stored ${fmt(run.tasksStored)} of ${fmt(run.tasksAnswered)} answered` +
        (store === 'redis' ? ` | redis CPU ${run.redisCpuSeconds} s` : ''),
    );
  }
  const m = (f: (r: BatchRun) => number): number => median(runs.map(f));
  const rate = m((r) => r.tasksPerSecond);
  const errors = runs.reduce((a, r) => a + r.errors, 0);
  const missing = runs.reduce((a, r) => a + Math.max(0, r.tasksAnswered - r.tasksStored), 0);
  const notes = [
    `server CPU per task ${fmt(
      m((r) => r.serverUsPerTask),
      1,
    )} µs, its main thread ${fmt(
      m((r) => r.serverMainUsPerTask),
      1,
    )} µs (medians); ${BATCH_CONNECTIONS} connections`,
  ];
  if (errors > 0) notes.push(`${errors} answers other than 200, e.g. ${runs.flatMap((r) => r.errorSamples)[0] ?? ''}`);
  if (missing > 0) notes.push(`${fmt(missing)} answered tasks not in the store: items were refused`);
  const row: Row = {
    scenario: 'batch',
    store,
    figure: `${fmt(rate)} tasks/s · batch p50 ${ms(m((r) => r.p50))} · p99 ${ms(m((r) => r.p99))}`,
    ceiling: '—',
    ratio: '—',
    target: `≥ ${fmt(TARGETS[store])} tasks/s`,
    verdict: verdict(rate >= TARGETS[store] && errors === 0 && missing === 0),
    notes,
  };
  return { runs, rows: [row] };
}
