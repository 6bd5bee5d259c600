/*
 * 5. BullMQ on the same Redis: the same N delayed deliveries done the way a BullMQ user would. The
 * "application" (the load generator process) adds N delayed jobs with Queue.add at 50 at once, all
 * due at the same time; a Worker in its own process at the server's concurrency sends each job's
 * request to the same target with undici. Enqueue rate, delivered/s from the due time to the last
 * delivery, lateness; and the undici ceiling of the same run.
 */
import { join } from 'node:path';
import type { BullWorkerProtocol } from '../children/bullmq-worker.js';
import type { BatchResult } from '../children/loadgen.js';
import {
  type BenchContext,
  type MachineLoad,
  type RedisWindow,
  describeRedisWindow,
  log,
  machineLoad,
  redisWindow,
} from '../lib/context.js';
import { type WarmUp, readDeliveries, undiciCeiling, warmUp } from '../lib/deliveries.js';
import { ChildRpc, REPO, type Scheduling, cpuMeter, describeScheduling, memoryOf, schedulingMeter, sleep } from '../lib/procs.js';
import { type Row, fmt, ms, ratio } from '../lib/report.js';
import { median } from '../lib/stats.js';

export interface BullmqRun {
  jobs: number;
  enqueueRate: number;
  marginMs: number;
  delivered: number;
  duplicates: number;
  rate: number;
  latenessP50: number;
  latenessP99: number;
  latenessMax: number;
  completed: number;
  failed: number;
  ceilingRate: number;
  ratio: number;
  cpuSeconds: Record<string, number>;
  /** As for the server's dispatch run: the main threads of the worker, Redis and the target, and the machine's idle cores. */
  scheduling: Scheduling;
  workerRssMb: number;
  load: MachineLoad;
  /** Persistence from the due time to the last delivery, as for the server. */
  redisWindow: RedisWindow;
  /** The worker's warm-up batch, delivered first by the same fresh worker (as the server's). */
  warmUp: WarmUp;
}

/**
 * One BullMQ run. `ceiling`: measure the undici ceiling after it, or the rate of one measured in
 * the same pair (dispatch), or `later` when the pair's ceiling is not measured yet (see
 * `withCeiling`).
 */
export async function bullmqRun(ctx: BenchContext, ceiling: 'measure' | 'later' | number = 'measure'): Promise<BullmqRun> {
  const n = ctx.options.sizes.bullmqJobs;
  const redis = ctx.redis;
  if (!redis) throw new Error('no redis-server');
  const l1 = machineLoad();
  await ctx.flushRedis();
  const worker = await ChildRpc.fork<BullWorkerProtocol>('bullmq-worker', join(REPO, 'bench/children/bullmq-worker.ts'));
  let run: Omit<BullmqRun, 'ceilingRate' | 'ratio'>;
  try {
    const connection = { host: '127.0.0.1', port: redis.port };
    await worker.call('start', { redis: connection, queue: 'bench', concurrency: ctx.options.concurrency, target: ctx.targetUrl });
    const add = (count: number): Promise<BatchResult> =>
      ctx.loadgen.call(
        'bullmqEnqueue',
        { redis: connection, queue: 'bench', n: count, plan: ctx.duePlan(count), concurrency: ctx.options.connections },
        900_000,
      );
    // The worker marks a job completed after its request: give the last ones of the warm-up a moment.
    const warm = await warmUp(ctx, add, () => sleep(200));
    await ctx.target.call('reset', { expected: n });
    const enqueue = await add(n);
    const due = enqueue.dueStart;
    if (Date.now() < due) await sleep(due - Date.now());
    const persistenceBefore = await ctx.redisPersistence();
    const meter = cpuMeter({ worker: worker.pid, redis: ctx.redisPid, target: ctx.target.pid });
    const sched = schedulingMeter({ worker: worker.pid, redis: ctx.redisPid, target: ctx.target.pid });
    const count = await ctx.waitForTarget(enqueue.ok, due + 120_000 + n);
    const cpuSeconds = meter();
    const scheduling = sched();
    const persistenceAfter = await ctx.redisPersistence();
    const workerRssMb = memoryOf(worker.pid).rssMb;
    const got = await readDeliveries(ctx, n, due);
    const stopped = await worker.call('stop', null, 60_000);
    run = {
      jobs: n,
      enqueueRate: enqueue.rate,
      marginMs: due - enqueue.endedAt,
      delivered: got.distinct,
      duplicates: got.duplicates,
      rate: (got.distinct / Math.max(1, got.lastAt - due)) * 1000,
      latenessP50: got.latenessMs.p50,
      latenessP99: got.latenessMs.p99,
      latenessMax: got.latenessMs.max,
      completed: stopped.completed - warm.tasks,
      failed: stopped.failed,
      cpuSeconds,
      scheduling,
      workerRssMb,
      load: l1,
      redisWindow: redisWindow(persistenceBefore, persistenceAfter, count),
      warmUp: warm,
    };
  } finally {
    await worker.close();
  }
  const ceilingRate = ceiling === 'measure' ? (await undiciCeiling(ctx, n)).rate : ceiling === 'later' ? NaN : ceiling;
  return withCeiling(run, ceilingRate);
}

export function withCeiling(run: Omit<BullmqRun, 'ceilingRate' | 'ratio'>, ceilingRate: number): BullmqRun {
  return { ...run, ceilingRate, ratio: run.rate / ceilingRate };
}

export function logBullmqRun(i: number, run: BullmqRun, order = ''): void {
  log(
    `bullmq/redis run ${i + 1}${order ? ` (${order})` : ''}: enqueued at ${fmt(run.enqueueRate)}/s (margin ${ms(run.marginMs)}); ${fmt(run.delivered)}/${fmt(run.jobs)}` +
      ` delivered at ${fmt(run.rate)}/s, lateness p50 ${ms(run.latenessP50)} p99 ${ms(run.latenessP99)} | undici ${fmt(run.ceilingRate)}/s` +
      ` | ratio ${ratio(run.ratio)} | CPU s ${JSON.stringify(run.cpuSeconds)}${describeScheduling(run.scheduling)}${describeRedisWindow(run.redisWindow)}` +
      (run.warmUp.tasks > 0 ? ` | warm-up: ${fmt(run.warmUp.tasks)} delivered at ${fmt(run.warmUp.rate)}/s by the fresh worker` : ''),
  );
}

export function bullmqRows(runs: readonly BullmqRun[]): Row[] {
  const m = (f: (r: BullmqRun) => number): number => median(runs.map(f));
  const notes: string[] = [];
  const missing = runs.reduce((a, x) => a + (x.jobs - x.delivered), 0);
  if (missing > 0) notes.push(`${missing} job(s) not delivered within the wait`);
  const overlapped = runs.filter((x) => x.marginMs < 0).length;
  if (overlapped > 0) notes.push(`${overlapped} run(s) became due before enqueueing ended`);
  const cpuMs = m((x) => ((x.cpuSeconds.worker ?? NaN) / x.delivered) * 1000);
  return [
    {
      scenario: 'bullmq 6.7.0',
      store: 'redis',
      figure: `enqueue ${fmt(m((x) => x.enqueueRate))}/s · ${fmt(m((r) => r.rate))} delivered/s · lateness p99 ${ms(m((x) => x.latenessP99))} · ${cpuMs.toFixed(2)} ms CPU/job`,
      ceiling: `undici ${fmt(m((x) => x.ceilingRate))} req/s`,
      ratio: ratio(m((x) => x.ratio)),
      target: 'reference',
      verdict: 'info',
      notes,
    },
  ];
}

/** BullMQ alone (when the dispatch scenario on Redis does not run in this bench). */
export async function bullmqScenario(ctx: BenchContext): Promise<{ runs: BullmqRun[]; rows: Row[] }> {
  const runs: BullmqRun[] = [];
  for (let i = 0; i < ctx.options.runs; i++) {
    const run = await bullmqRun(ctx);
    runs.push(run);
    logBullmqRun(i, run);
  }
  return { runs, rows: bullmqRows(runs) };
}
