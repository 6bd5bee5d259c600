/*
 * The load generator, in its own process so it never shares an event loop with what it measures.
 * One implementation for every HTTP load of the bench (undici Pool, keep-alive, one request in
 * flight per connection):
 *   load            closed loop at N connections for a fixed time (subscribe throughput, and its
 *                   ceiling against the bare JSON server): requests/s and latency percentiles
 *   subscribeBatch  N subscribes with computed executionAt / params (dispatch, timing scenarios)
 *   burst           N requests straight to the target at a given concurrency (the dispatch ceiling)
 *   bullmqEnqueue   N delayed BullMQ jobs added the way an application would (Queue.add)
 */
import { performance } from 'node:perf_hooks';
import { Queue } from 'bullmq';
import { Pool } from 'undici';
import { PAYLOAD, PAYLOAD_BYTES, dispatchHeaders, subscribeBody, targetPath } from '../lib/bodies.js';
import { serve } from '../lib/child.js';
import { type Summary, summarize } from '../lib/stats.js';

export interface LoadArgs {
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  warmupMs: number;
  durationMs: number;
  expectStatus: number;
}

export interface LoadResult {
  requests: number;
  /** Every answer received, warm-up included: what the server's CPU over the whole load served. */
  answered: number;
  errors: number;
  statuses: Record<string, number>;
  errorSamples: string[];
  elapsedMs: number;
  rps: number;
  latencyMs: Summary;
}

/**
 * When the batch is due. `fixed`: from `dueStart`. `calibrate`: first `probe` items that are not
 * part of the measurement (subscribes due in an hour, or jobs delayed by an hour; half to warm up,
 * half measured) measure the rate right now, then the batch is made due far enough ahead that adding it ends first:
 * n / rate × 1.1 + 1 s, at least `minLeadMs` (the probe's rate has been about half the batch's:
 * small and cold, so this leaves room for the machine's swings).
 */
export type DuePlan = { kind: 'fixed'; dueStart: number } | { kind: 'calibrate'; probe: number; minLeadMs: number };

export interface BatchArgs {
  origin: string;
  headers: Record<string, string>;
  target: string;
  n: number;
  /** Task i is due at dueStart + i * spacingMs. */
  plan: DuePlan;
  spacingMs: number;
  concurrency: number;
  /** The tasks' timeout (subscribeBody's default when absent). */
  timeout?: string;
  /** The tasks' flow key (none when absent). */
  flowKey?: string;
}

export interface BatchResult {
  /** The due time of the first item (chosen here when the plan calibrates). */
  dueStart: number;
  /** Rate of the calibration probe, items/s (NaN without one), and how many it added (due in an hour). */
  probeRate: number;
  probed: number;
  ok: number;
  failed: number;
  statuses: Record<string, number>;
  errorSamples: string[];
  startedAt: number;
  endedAt: number;
  rate: number;
}

export interface BurstArgs {
  origin: string;
  n: number;
  concurrency: number;
  due: number;
  /** Requests sent first on the same pool, not counted: the ceiling measured warm, as the server is. */
  warmup: number;
}

export interface BurstResult {
  startedAt: number;
  endedAt: number;
  errors: number;
}

export interface EnqueueArgs {
  redis: { host: string; port: number };
  queue: string;
  n: number;
  plan: DuePlan;
  concurrency: number;
}

export type LoadgenProtocol = {
  load: { args: LoadArgs; result: LoadResult };
  subscribeBatch: { args: BatchArgs; result: BatchResult };
  burst: { args: BurstArgs; result: BurstResult };
  bullmqEnqueue: { args: EnqueueArgs; result: BatchResult };
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function describe(error: unknown): string {
  if (error instanceof Error) return `${(error as { code?: string }).code ?? error.name}: ${error.message}`;
  return String(error);
}

function newPool(origin: string, connections: number): Pool {
  return new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 60_000, headersTimeout: 60_000, bodyTimeout: 60_000 });
}

async function load(args: LoadArgs): Promise<LoadResult> {
  const pool = newPool(args.origin, args.connections);
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const errorSamples: string[] = [];
  let measuring = false;
  let stop = false;
  let requests = 0;
  let answered = 0;
  let errors = 0;
  const headers = { 'content-type': 'application/json', ...args.headers };
  const worker = async (): Promise<void> => {
    while (!stop) {
      const t0 = performance.now();
      try {
        const res = await pool.request({ path: args.path, method: 'POST', headers, body: args.body });
        const text = await res.body.text();
        const ms = performance.now() - t0;
        answered++;
        if (!measuring) continue;
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        if (res.statusCode === args.expectStatus) {
          requests++;
          latencies.push(ms);
        } else {
          errors++;
          if (errorSamples.length < 5) errorSamples.push(`${res.statusCode} ${text.slice(0, 300)}`);
        }
      } catch (error) {
        if (measuring) {
          errors++;
          if (errorSamples.length < 5) errorSamples.push(describe(error));
        }
        await sleep(10); // a refused connection must not spin
      }
    }
  };
  const workers = Array.from({ length: args.connections }, () => worker());
  await sleep(args.warmupMs);
  measuring = true;
  const t0 = performance.now();
  await sleep(args.durationMs);
  measuring = false;
  const elapsedMs = performance.now() - t0;
  stop = true;
  await Promise.all(workers);
  await pool.close();
  return {
    requests,
    answered,
    errors,
    statuses,
    errorSamples,
    elapsedMs,
    rps: (requests / elapsedMs) * 1000,
    latencyMs: summarize(latencies),
  };
}

/** Runs `n` jobs with `concurrency` loops; `job(i)` answers an error description or null. */
type Batch = Omit<BatchResult, 'dueStart' | 'probeRate' | 'probed'>;

async function batch(n: number, concurrency: number, job: (i: number) => Promise<string | null>): Promise<Batch> {
  const statuses: Record<string, number> = {};
  const errorSamples: string[] = [];
  let next = 0;
  let ok = 0;
  let failed = 0;
  const startedAt = Date.now();
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      let problem: string | null;
      try {
        problem = await job(i);
      } catch (error) {
        problem = describe(error);
      }
      if (problem === null) ok++;
      else {
        failed++;
        statuses[problem.slice(0, 3)] = (statuses[problem.slice(0, 3)] ?? 0) + 1;
        if (errorSamples.length < 5) errorSamples.push(problem.slice(0, 400));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, () => worker()));
  const endedAt = Date.now();
  return { ok, failed, statuses, errorSamples, startedAt, endedAt, rate: (ok / Math.max(1, endedAt - startedAt)) * 1000 };
}

/** Runs the probe when the plan calibrates; answers the due time of the batch and the probe's rate. */
async function planDue(
  plan: DuePlan,
  n: number,
  concurrency: number,
  probe: (i: number) => Promise<string | null>,
): Promise<{ dueStart: number; probeRate: number; probed: number }> {
  if (plan.kind === 'fixed') return { dueStart: plan.dueStart, probeRate: NaN, probed: 0 };
  // The first half warms the path up (a fresh server is several times slower while V8 compiles); the second half is measured.
  const warm = await batch(Math.ceil(plan.probe / 2), concurrency, probe);
  const measured = await batch(Math.floor(plan.probe / 2), concurrency, probe);
  if (warm.failed + measured.failed > 0)
    throw new Error(`calibration failed: ${[...warm.errorSamples, ...measured.errorSamples].join('; ')}`);
  const lead = Math.max(plan.minLeadMs, (n / measured.rate) * 1000 * 1.1 + 1_000);
  return { dueStart: Date.now() + Math.round(lead), probeRate: measured.rate, probed: warm.ok + measured.ok };
}

async function subscribeBatch(args: BatchArgs): Promise<BatchResult> {
  const pool = newPool(args.origin, args.concurrency);
  const headers = { 'content-type': 'application/json', ...args.headers };
  const subscribe = async (body: string): Promise<string | null> => {
    const res = await pool.request({ path: '/v1beta/subscribe', method: 'POST', headers, body });
    const text = await res.body.text();
    return res.statusCode === 201 ? null : `${res.statusCode} ${text}`;
  };
  try {
    const far = subscribeBody({ target: args.target, executionDelay: '1h', params: { probe: '1' } });
    const { dueStart, probeRate, probed } = await planDue(args.plan, args.n, args.concurrency, () => subscribe(far));
    const result = await batch(args.n, args.concurrency, async (i) => {
      const due = dueStart + i * args.spacingMs;
      return subscribe(
        subscribeBody({
          target: args.target,
          executionAt: due,
          params: { due: String(due), i: String(i) },
          timeout: args.timeout,
          flowKey: args.flowKey,
        }),
      );
    });
    return { ...result, dueStart, probeRate, probed };
  } finally {
    await pool.close();
  }
}

async function burst(args: BurstArgs): Promise<BurstResult> {
  const pool = newPool(args.origin, args.concurrency);
  try {
    // Warm-up requests carry no index: the target records them, the delivery count ignores them.
    const warm = await batch(args.warmup, args.concurrency, async () => {
      const res = await pool.request({
        path: targetPath({ warmup: '1' }),
        method: 'POST',
        headers: dispatchHeaders('BENCHWARMUP0000000000000000'),
        body: PAYLOAD_BYTES,
      });
      await res.body.dump();
      return res.statusCode >= 200 && res.statusCode < 300 ? null : `${res.statusCode}`;
    });
    const result = await batch(args.n, args.concurrency, async (i) => {
      const res = await pool.request({
        path: targetPath({ due: String(args.due), i: String(i) }),
        method: 'POST',
        headers: dispatchHeaders(`BENCH${String(i).padStart(21, '0')}`),
        body: PAYLOAD_BYTES,
      });
      await res.body.dump();
      return res.statusCode >= 200 && res.statusCode < 300 ? null : `${res.statusCode}`;
    });
    return { startedAt: result.startedAt, endedAt: result.endedAt, errors: result.failed + warm.failed };
  } finally {
    await pool.close();
  }
}

async function bullmqEnqueue(args: EnqueueArgs): Promise<BatchResult> {
  const queue = new Queue(args.queue, { connection: { host: args.redis.host, port: args.redis.port } });
  try {
    await queue.waitUntilReady();
    const options = { attempts: 4, backoff: { type: 'fixed', delay: 10_000 } };
    const { dueStart, probeRate, probed } = await planDue(args.plan, args.n, args.concurrency, async () => {
      await queue.add('probe', { path: targetPath({ probe: '1' }), payload: PAYLOAD }, { ...options, delay: 3_600_000 });
      return null;
    });
    const result = await batch(args.n, args.concurrency, async (i) => {
      await queue.add(
        'deliver',
        { path: targetPath({ due: String(dueStart), i: String(i) }), payload: PAYLOAD },
        { ...options, delay: Math.max(0, dueStart - Date.now()) },
      );
      return null;
    });
    return { ...result, dueStart, probeRate, probed };
  } finally {
    await queue.close();
  }
}

serve<LoadgenProtocol>({ load, subscribeBatch, burst, bullmqEnqueue });
