/*
 * 2. Dispatch throughput: N tasks (20,000) subscribed with one executionAt, far enough ahead that
 * subscribing ends first; the target records arrivals. Delivered/s = N / (last arrival − due
 * time). The ceiling, in the same run: undici sending the same N requests to the same target at the
 * server's TASKS_CONCURRENCY. Also: when the server had recorded every outcome (GET /v1beta/info
 * taskInQueue reaches 0), and the CPU each process used from the due time to the last delivery.
 */
import type { BatchResult } from '../children/loadgen.js';
import type { BenchContext } from '../lib/context.js';
import { type BullmqRun, bullmqRun, logBullmqRun, withCeiling } from './bullmq.js';
import { type MachineLoad, type RedisWindow, authHeaders, describeRedisWindow, log, machineLoad, redisWindow } from '../lib/context.js';
import { type WarmUp, readDeliveries, undiciCeiling, warmUp } from '../lib/deliveries.js';
import type { StoreName } from '../lib/options.js';
import { type Scheduling, cpuMeter, describeScheduling, memoryOf, schedulingMeter, sleep } from '../lib/procs.js';
import { type Row, fmt, ms, ratio, verdict as verdictOf } from '../lib/report.js';
import { median } from '../lib/stats.js';

export interface DispatchRun {
  tasks: number;
  subscribeRate: number;
  /** Rate of the calibration probe that chose the due time. */
  probeRate: number;
  subscribeFailed: number;
  /** Due time minus the end of subscribing: negative means dispatch overlapped subscribing. */
  marginMs: number;
  delivered: number;
  duplicates: number;
  rate: number;
  firstLatenessMs: number;
  latenessP50: number;
  latenessP99: number;
  /** Due time to the last outcome recorded (taskInQueue back to the calibration probe's tasks, due in an hour). */
  recordedAfterMs: number;
  ceilingRate: number;
  ratio: number;
  cpuSeconds: Record<string, number>;
  /** The main threads of the server, Redis and the target from the due time to the last delivery, and the machine's idle cores. */
  scheduling: Scheduling;
  rssMb: number;
  load: MachineLoad;
  errorSamples: string[];
  /** The server's warm-up batch, delivered first by the same fresh process: its rate is a cold start's. */
  warmUp: WarmUp;
  /** When BullMQ runs in the same bench: its run paired with this one on the same Redis, and this rate / its rate. */
  bullmqRate?: number;
  /** BullMQ's run of the pair went first. */
  bullmqFirst?: boolean;
  vsBullmq?: number;
  /** Redis only: persistence from the due time to the last delivery (forks, AOF bytes per task). */
  redisWindow?: RedisWindow;
  /** With --profile: the server's profile, and the dispatch phase in seconds from its start. */
  profile?: { file: string; from: number; to: number; command: string };
}

export async function dispatchRun(ctx: BenchContext, store: StoreName): Promise<DispatchRun> {
  const n = ctx.options.sizes.dispatchTasks;
  const l1 = machineLoad();
  const server = await ctx.startServer(store, 'dispatch');
  let run: Omit<DispatchRun, 'ceilingRate' | 'ratio'>;
  try {
    const creds = await ctx.register(server);
    const subscribe = (count: number): Promise<BatchResult> =>
      ctx.loadgen.call(
        'subscribeBatch',
        {
          origin: server.url,
          headers: authHeaders(creds),
          target: ctx.targetUrl,
          n: count,
          plan: ctx.duePlan(count),
          spacingMs: 0,
          concurrency: ctx.options.connections,
        },
        900_000,
      );
    // Every calibration probe's tasks stay in the queue (due in an hour): "recorded" is the count back to them.
    const recorded = async (probed: number, deadline: number): Promise<number> => {
      while (Date.now() < deadline) {
        if ((await ctx.taskInQueue(server, creds)) <= probed) return Date.now();
        await sleep(50);
      }
      return NaN;
    };
    const warm = await warmUp(ctx, subscribe, async (b) => void (await recorded(b.probed, Date.now() + 60_000)));
    await ctx.target.call('reset', { expected: n });
    const batch = await subscribe(n);
    const due = batch.dueStart;
    const expected = batch.ok;
    if (Date.now() < due) await sleep(due - Date.now());
    const persistenceBefore = store === 'redis' ? await ctx.redisPersistence() : null;
    const meter = cpuMeter({ server: server.pid, redis: store === 'redis' ? ctx.redisPid : -1, target: ctx.target.pid });
    const sched = schedulingMeter(
      store === 'redis'
        ? { server: server.pid, redis: ctx.redisPid, target: ctx.target.pid }
        : { server: server.pid, target: ctx.target.pid },
    );
    const count = await ctx.waitForTarget(expected, due + 120_000 + expected);
    const cpuSeconds = meter();
    const scheduling = sched();
    const persistenceAfter = persistenceBefore ? await ctx.redisPersistence() : null;
    const recordedAt = await recorded(warm.probed + batch.probed, Date.now() + 60_000);
    const rssMb = memoryOf(server.pid).rssMb;
    const got = await readDeliveries(ctx, n, due);
    const window = Math.max(1, got.lastAt - due);
    run = {
      tasks: n,
      subscribeRate: batch.rate,
      probeRate: batch.probeRate,
      subscribeFailed: batch.failed,
      marginMs: due - batch.endedAt,
      delivered: got.distinct,
      duplicates: got.duplicates,
      rate: count > 0 ? (got.distinct / window) * 1000 : 0,
      firstLatenessMs: got.firstAt - due,
      latenessP50: got.latenessMs.p50,
      latenessP99: got.latenessMs.p99,
      recordedAfterMs: recordedAt - due,
      cpuSeconds,
      scheduling,
      rssMb,
      load: l1,
      errorSamples: batch.errorSamples,
      warmUp: warm,
    };
    if (persistenceBefore && persistenceAfter) run.redisWindow = redisWindow(persistenceBefore, persistenceAfter, count);
    if (server.profileFile) {
      const from = Math.max(0, (due - server.spawnedAt) / 1000);
      const to = (Math.max(got.lastAt, recordedAt || got.lastAt) - server.spawnedAt) / 1000;
      const command = `npx tsx bench/profile-summary.ts ${server.profileFile} --from ${from.toFixed(1)} --to ${to.toFixed(1)}`;
      run.profile = { file: server.profileFile, from, to, command };
    }
  } finally {
    await server.stop();
  }
  const ceiling = await undiciCeiling(ctx, n);
  return { ...run, ceilingRate: ceiling.rate, ratio: run.rate / ceiling.rate };
}

/**
 * The scenario on one store. On Redis with `withBullmq`, every run is paired with a BullMQ run on
 * the same Redis against the same undici ceiling (after it in odd-numbered runs, before it in even
 * ones), and the comparison is taken within each pair.
 */
export async function dispatchScenario(
  ctx: BenchContext,
  store: StoreName,
  withBullmq = false,
): Promise<{ runs: DispatchRun[]; rows: Row[]; bullmqRuns: BullmqRun[] }> {
  const runs: DispatchRun[] = [];
  const bullmqRuns: BullmqRun[] = [];
  for (let i = 0; i < ctx.options.runs; i++) {
    // Pairs alternate which side goes first (ABAB...: the server first in odd-numbered runs), so that
    // neither side always meets the same point of a periodic cost of the shared Redis (its AOF
    // rewrites, triggered by the bytes written since the last one) or of the minute's drift.
    const bullmqFirst = withBullmq && store === 'redis' && i % 2 === 1;
    const early = bullmqFirst ? await bullmqRun(ctx, 'later') : null;
    const run = await dispatchRun(ctx, store);
    runs.push(run);
    log(
      `dispatch/${store} run ${i + 1}: ${fmt(run.delivered)}/${fmt(run.tasks)} delivered at ${fmt(run.rate)}/s` +
        ` (first ${ms(run.firstLatenessMs)}, p99 lateness ${ms(run.latenessP99)}, all recorded after ${ms(run.recordedAfterMs)})` +
        ` | undici ${fmt(run.ceilingRate)}/s | ratio ${ratio(run.ratio)} | subscribed at ${fmt(run.subscribeRate)}/s, margin ${ms(run.marginMs)}` +
        ` | CPU s ${JSON.stringify(run.cpuSeconds)}${describeScheduling(run.scheduling)}` +
        (run.redisWindow ? describeRedisWindow(run.redisWindow) : '') +
        (run.warmUp.tasks > 0 ? ` | warm-up: ${fmt(run.warmUp.tasks)} delivered at ${fmt(run.warmUp.rate)}/s by the fresh server` : ''),
    );
    if (run.profile) log(`  dispatch phase of the profile: ${run.profile.command}`);
    if (withBullmq && store === 'redis') {
      const b = early ? withCeiling(early, run.ceilingRate) : await bullmqRun(ctx, run.ceilingRate);
      bullmqRuns.push(b);
      logBullmqRun(i, b, bullmqFirst ? 'before the server' : 'after the server');
      run.bullmqRate = b.rate;
      run.vsBullmq = run.rate / b.rate;
      run.bullmqFirst = bullmqFirst;
    }
  }
  const m = (f: (r: DispatchRun) => number): number => median(runs.map(f));
  const rate = m((r) => r.rate);
  const r = m((x) => x.ratio);
  const notes: string[] = [];
  const overlapped = runs.filter((x) => x.marginMs < 0).length;
  if (overlapped > 0) notes.push(`${overlapped} run(s) became due before subscribing ended (dispatch overlapped subscribing)`);
  const missing = runs.reduce((a, x) => a + (x.tasks - x.delivered), 0);
  if (missing > 0)
    notes.push(
      `${missing} task(s) not delivered within the wait (or not subscribed: ${runs.reduce((a, x) => a + x.subscribeFailed, 0)} failed)`,
    );
  const dup = runs.reduce((a, x) => a + x.duplicates, 0);
  if (dup > 0) notes.push(`${dup} duplicate deliveries`);
  const cpuMs = m((x) => ((x.cpuSeconds.server ?? NaN) / x.delivered) * 1000);
  let target = store === 'sqlite' ? '≥ 0.50' : '> BullMQ (not run)';
  let verdict: Row['verdict'] = store === 'sqlite' ? verdictOf(r >= 0.5 && missing === 0) : 'n/a';
  if (store === 'redis' && bullmqRuns.length > 0) {
    const vs = m((x) => x.vsBullmq ?? NaN);
    target = `> BullMQ ${fmt(median(bullmqRuns.map((b) => b.rate)))}/s (×${vs.toFixed(2)})`;
    verdict = verdictOf(vs > 1 && missing === 0);
    notes.push(schedulingNote(runs, bullmqRuns));
  }
  const row: Row = {
    scenario: 'dispatch',
    store,
    figure: `${fmt(rate)} tasks/s · lateness p99 ${ms(m((x) => x.latenessP99))} · recorded +${ms(m((x) => x.recordedAfterMs))} · ${cpuMs.toFixed(2)} ms CPU/task`,
    ceiling: `undici ${fmt(m((x) => x.ceilingRate))} req/s`,
    ratio: ratio(r),
    target,
    verdict,
    notes,
  };
  return { runs, rows: [row], bullmqRuns };
}

/**
 * Per 20,000 deliveries (medians): the main thread's seconds on a CPU and waiting for one, for the
 * server and BullMQ's worker, and the machine's idle cores in their windows. Which side delivers more
 * per second comes down to CPU per delivery and the share of a core each main thread gets.
 */
function schedulingNote(runs: readonly DispatchRun[], bullmqRuns: readonly BullmqRun[]): string {
  const per20k = (s: Scheduling, name: string, delivered: number, key: 'onCpuS' | 'waitS'): number =>
    ((s.main[name]?.[key] ?? NaN) / delivered) * 20_000;
  const side = (list: readonly { scheduling: Scheduling; delivered: number }[], name: string): string => {
    const onCpu = median(list.map((r) => per20k(r.scheduling, name, r.delivered, 'onCpuS')));
    const wait = median(list.map((r) => per20k(r.scheduling, name, r.delivered, 'waitS')));
    const idle = median(list.map((r) => r.scheduling.idleCores));
    return `${onCpu.toFixed(2)} s on a CPU, ${wait.toFixed(2)} s waiting for one (${idle.toFixed(2)} cores idle)`;
  };
  return `main thread per 20,000 deliveries: server ${side(runs, 'server')}; BullMQ's worker ${side(bullmqRuns, 'worker')}`;
}
