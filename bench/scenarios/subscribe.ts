/*
 * 1. Subscribe throughput: POST /v1beta/subscribe with a ~1 KB body at 50 connections for 10 s
 * (after a warm-up), against a fresh server on a fresh store; the ceiling is the bare JSON server
 * loaded by the same generator with the same body, in the same run.
 */
import type { LoadResult } from '../children/loadgen.js';
import { subscribeBody } from '../lib/bodies.js';
import {
  type BenchContext,
  type Credentials,
  type MachineLoad,
  type RedisPersistence,
  type RedisWindow,
  authHeaders,
  describeRedisWindow,
  log,
  machineLoad,
  redisWindow,
} from '../lib/context.js';
import type { StoreName } from '../lib/options.js';
import { type ServerProcess, cpuMeter, memoryOf } from '../lib/procs.js';
import { type Row, fmt, ms, ratio, verdict } from '../lib/report.js';
import { median } from '../lib/stats.js';

export interface SubscribeRun {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  ceilingRps: number;
  ceilingP50: number;
  ceilingP99: number;
  ratio: number;
  serverCpuSeconds: number;
  /**
   * The server's main thread (the event loop: HTTP, validation, sealing, SQLite) alone, its share
   * of one core over the load, and its CPU per answer, warm-up included. The bare JSON server's
   * CPU per answer beside it; their quotient is what the ratio would be if each had a core to
   * itself, free of what else the machine ran in the seconds each was measured.
   */
  serverMainCpuSeconds: number;
  serverMainBusy: number;
  serverMainUsPerRequest: number;
  ceilingCpuSeconds: number;
  ceilingUsPerRequest: number;
  cpuRatio: number;
  redisCpuSeconds: number;
  loadgenCpuSeconds: number;
  /**
   * The bare store server in the same run (children/bare-store.ts): node:http and the server's
   * own resolve, seal and store write, no framework. Its CPU is the whole process's per answer.
   */
  bareStoreRps: number;
  bareStoreP50: number;
  bareStoreP99: number;
  bareStoreUsPerRequest: number;
  rssMb: number;
  load: MachineLoad;
  errorSamples: string[];
  /** On Redis: forks (AOF rewrites, snapshots) during the load, warm-up included; each stops Redis while it copies its page tables. */
  redisWindow?: RedisWindow;
}

/** The same load (body, connections, warm-up, duration) against the server or the ceiling. */
function loadAt(ctx: BenchContext, origin: string, headers: Record<string, string>): Promise<LoadResult> {
  const { sizes, connections } = ctx.options;
  return ctx.loadgen.call(
    'load',
    {
      origin,
      path: '/v1beta/subscribe',
      headers,
      body: subscribeBody({ target: ctx.targetUrl, executionDelay: '1h' }),
      connections,
      warmupMs: sizes.subscribeWarmupMs,
      durationMs: sizes.subscribeMs,
      expectStatus: 201,
    },
    sizes.subscribeWarmupMs + sizes.subscribeMs + 120_000,
  );
}

/** The subscribe load used here and by the scale scenario. */
export function subscribeLoad(ctx: BenchContext, server: ServerProcess, creds: Credentials): Promise<LoadResult> {
  return loadAt(ctx, server.url, authHeaders(creds));
}

/** Credentials of the same size as the server's, for servers that do not check them. */
const UNCHECKED_CREDENTIALS = { authorization: 'Bearer kt_x', 'x-kuueri-tasks-project': 'x' };

export function ceilingLoad(ctx: BenchContext): Promise<LoadResult> {
  if (!ctx.bare) throw new Error('bare JSON server not started');
  return loadAt(ctx, String(ctx.bare.info.url), UNCHECKED_CREDENTIALS);
}

/** The same load against the bare store server, on a fresh store: what it served and its CPU per answer. */
async function bareStoreLoad(ctx: BenchContext, store: StoreName): Promise<{ result: LoadResult; usPerRequest: number }> {
  const bare = await ctx.startBareStore(store);
  try {
    const meter = cpuMeter({ bare: bare.pid });
    const result = await loadAt(ctx, String(bare.info.url), UNCHECKED_CREDENTIALS);
    return { result, usPerRequest: (meter().bare! * 1e6) / result.answered };
  } finally {
    await bare.close();
  }
}

async function oneRun(ctx: BenchContext, store: StoreName): Promise<SubscribeRun> {
  const l1 = machineLoad();
  const server = await ctx.startServer(store, 'subscribe');
  let result: LoadResult;
  let cpu: Record<string, number>;
  let loadSeconds: number;
  let rssMb: number;
  let persistenceBefore: RedisPersistence | null;
  let persistenceAfter: RedisPersistence | null;
  try {
    const creds = await ctx.register(server);
    const meter = cpuMeter({
      server: server.pid,
      serverMain: { pid: server.pid, thread: server.pid },
      redis: store === 'redis' ? ctx.redisPid : -1,
      loadgen: ctx.loadgen.pid,
    });
    persistenceBefore = store === 'redis' ? await ctx.redisPersistence() : null;
    const startedAt = performance.now();
    result = await subscribeLoad(ctx, server, creds);
    loadSeconds = (performance.now() - startedAt) / 1000;
    cpu = meter();
    persistenceAfter = persistenceBefore ? await ctx.redisPersistence() : null;
    rssMb = memoryOf(server.pid).rssMb;
  } finally {
    await server.stop();
  }
  const bareMeter = cpuMeter({ bare: ctx.bare?.pid ?? -1 });
  const ceiling = await ceilingLoad(ctx);
  const bareCpu = bareMeter().bare!;
  const bareStore = await bareStoreLoad(ctx, store);
  const serverMainUs = (cpu.serverMain! * 1e6) / result.answered;
  const window = persistenceBefore && persistenceAfter ? redisWindow(persistenceBefore, persistenceAfter, result.answered) : undefined;
  const ceilingUs = (bareCpu * 1e6) / ceiling.answered;
  return {
    rps: result.rps,
    p50: result.latencyMs.p50,
    p99: result.latencyMs.p99,
    errors: result.errors,
    ceilingRps: ceiling.rps,
    ceilingP50: ceiling.latencyMs.p50,
    ceilingP99: ceiling.latencyMs.p99,
    ratio: result.rps / ceiling.rps,
    serverCpuSeconds: cpu.server!,
    serverMainCpuSeconds: cpu.serverMain!,
    serverMainBusy: cpu.serverMain! / loadSeconds,
    serverMainUsPerRequest: serverMainUs,
    ceilingCpuSeconds: bareCpu,
    ceilingUsPerRequest: ceilingUs,
    cpuRatio: ceilingUs / serverMainUs,
    redisCpuSeconds: cpu.redis!,
    loadgenCpuSeconds: cpu.loadgen!,
    bareStoreRps: bareStore.result.rps,
    bareStoreP50: bareStore.result.latencyMs.p50,
    bareStoreP99: bareStore.result.latencyMs.p99,
    bareStoreUsPerRequest: bareStore.usPerRequest,
    rssMb,
    load: l1,
    errorSamples: result.errorSamples,
    ...(window ? { redisWindow: window } : {}),
  };
}

export async function subscribeScenario(ctx: BenchContext, store: StoreName): Promise<{ runs: SubscribeRun[]; rows: Row[] }> {
  const runs: SubscribeRun[] = [];
  for (let i = 0; i < ctx.options.runs; i++) {
    const run = await oneRun(ctx, store);
    runs.push(run);
    log(
      `subscribe/${store} run ${i + 1}: ${fmt(run.rps)} req/s p50 ${ms(run.p50)} p99 ${ms(run.p99)} errors ${run.errors}` +
        ` | bare JSON ${fmt(run.ceilingRps)} req/s | ratio ${ratio(run.ratio)} | server CPU ${run.serverCpuSeconds} s` +
        ` | main thread ${Math.round(run.serverMainBusy * 100)}% busy, ${fmt(run.serverMainUsPerRequest)} µs/req; bare ${fmt(run.ceilingUsPerRequest)} µs/req: by CPU ${ratio(run.cpuRatio)}` +
        ` | bare store ${fmt(run.bareStoreRps)} req/s p99 ${ms(run.bareStoreP99)}, ${fmt(run.bareStoreUsPerRequest)} µs/req` +
        (run.redisWindow ? describeRedisWindow(run.redisWindow) : ''),
    );
  }
  const m = (f: (r: SubscribeRun) => number): number => median(runs.map(f));
  const rps = m((r) => r.rps);
  const p50 = m((r) => r.p50);
  const p99 = m((r) => r.p99);
  const r = m((x) => x.ratio);
  const errors = runs.reduce((a, x) => a + x.errors, 0);
  const notes = errors > 0 ? [`${errors} non-201 answers or errors, e.g. ${runs.flatMap((x) => x.errorSamples)[0] ?? ''}`] : [];
  notes.push(
    `the server's main thread ${Math.round(m((x) => x.serverMainBusy) * 100)}% busy, ${fmt(m((x) => x.serverMainUsPerRequest))} µs of its CPU per request; ` +
      `the bare server ${fmt(m((x) => x.ceilingUsPerRequest))} µs; ratio by CPU ${ratio(m((x) => x.cpuRatio))} (medians)`,
    `the bare store server (node:http, the server's own resolve, seal and ${store} write; no framework, no authentication): ` +
      `${fmt(m((x) => x.bareStoreRps))} req/s, p50 ${ms(m((x) => x.bareStoreP50))}, p99 ${ms(m((x) => x.bareStoreP99))} (medians); ` +
      `the server's p99 minus the bare store server's, run by run: ${runs.map((x) => ms(x.p99 - x.bareStoreP99)).join(', ')}`,
  );
  const p99ok = p99 < 20;
  const row: Row = {
    scenario: 'subscribe',
    store,
    figure: `${fmt(rps)} req/s · p50 ${ms(p50)} · p99 ${ms(p99)}`,
    ceiling: `bare JSON ${fmt(m((x) => x.ceilingRps))} req/s (p99 ${ms(m((x) => x.ceilingP99))})`,
    ratio: ratio(r),
    target: store === 'sqlite' ? '≥ 0.40 · p99 < 20 ms' : 'p99 < 20 ms',
    verdict: verdict(store === 'sqlite' ? r >= 0.4 && p99ok && errors === 0 : p99ok && errors === 0),
    notes,
  };
  return { runs, rows: [row] };
}
