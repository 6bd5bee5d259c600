/*
 * 3. Timing accuracy: a steady 1,000 tasks/s due over 30 s (executionAt 1 ms apart), all subscribed
 * before the first is due; each task carries its due time in its params and the target computes
 * lateness = arrival − estimateExecAt (ms, Date.now() on both sides: one machine, one clock).
 */
import type { BenchContext } from '../lib/context.js';
import { type MachineLoad, authHeaders, log, machineLoad } from '../lib/context.js';
import { readDeliveries } from '../lib/deliveries.js';
import type { StoreName } from '../lib/options.js';
import { cpuMeter, sleep } from '../lib/procs.js';
import { type Row, fmt, ms, verdict } from '../lib/report.js';
import { median } from '../lib/stats.js';

export interface TimingRun {
  tasks: number;
  delivered: number;
  duplicates: number;
  subscribeRate: number;
  /** Rate of the calibration probe that chose the due time. */
  probeRate: number;
  subscribeFailed: number;
  marginMs: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  cpuSeconds: Record<string, number>;
  /** Deliveries more than 10 ms late, per second of the due window: clustered means stalls. */
  lateBySecond: Record<string, number>;
  /** Redis only: forks of redis-server (snapshot or AOF rewrite) during the due window, and how long the last one stopped it. */
  redisForks?: { forks: number; latestForkUs: number };
  load: MachineLoad;
  /** With --profile: the server's profile, and the due window in seconds from its start. */
  profile?: { file: string; from: number; to: number; command: string };
}

async function lateSeconds(ctx: BenchContext, start: number): Promise<Record<string, number>> {
  const { at, due } = await ctx.target.call('records', null);
  const bySecond: Record<string, number> = {};
  for (let k = 0; k < at.length; k++) {
    if (at[k]! - due[k]! <= 10) continue;
    const second = String(Math.floor((due[k]! - start) / 1000));
    bySecond[second] = (bySecond[second] ?? 0) + 1;
  }
  return bySecond;
}

async function oneRun(ctx: BenchContext, store: StoreName): Promise<TimingRun> {
  const { timingRate, timingSeconds } = ctx.options.sizes;
  const n = timingRate * timingSeconds;
  const spacing = 1000 / timingRate;
  const l1 = machineLoad();
  const server = await ctx.startServer(store, 'timing');
  try {
    const creds = await ctx.register(server);
    await ctx.target.call('reset', { expected: n });
    const batch = await ctx.loadgen.call(
      'subscribeBatch',
      {
        origin: server.url,
        headers: authHeaders(creds),
        target: ctx.targetUrl,
        n,
        plan: ctx.duePlan(n),
        spacingMs: spacing,
        concurrency: ctx.options.connections,
      },
      900_000,
    );
    const start = batch.dueStart;
    if (Date.now() < start) await sleep(start - Date.now());
    const meter = cpuMeter({ server: server.pid, redis: store === 'redis' ? ctx.redisPid : -1 });
    const persistenceBefore = store === 'redis' ? await ctx.redisPersistence() : null;
    await ctx.waitForTarget(batch.ok, start + timingSeconds * 1000 + 30_000);
    const cpuSeconds = meter();
    const persistenceAfter = persistenceBefore ? await ctx.redisPersistence() : null;
    const redisForks =
      persistenceBefore && persistenceAfter
        ? { forks: persistenceAfter.forks - persistenceBefore.forks, latestForkUs: persistenceAfter.latestForkUs }
        : undefined;
    const got = await readDeliveries(ctx, n);
    const lateBySecond = await lateSeconds(ctx, start);
    let profile: TimingRun['profile'];
    if (server.profileFile) {
      const from = Math.max(0, (start - server.spawnedAt) / 1000);
      const to = (got.lastAt - server.spawnedAt) / 1000;
      profile = {
        file: server.profileFile,
        from,
        to,
        command: `npx tsx bench/profile-summary.ts ${server.profileFile} --from ${from.toFixed(1)} --to ${to.toFixed(1)}`,
      };
    }
    return {
      profile,
      tasks: n,
      delivered: got.distinct,
      duplicates: got.duplicates,
      subscribeRate: batch.rate,
      probeRate: batch.probeRate,
      subscribeFailed: batch.failed,
      marginMs: start - batch.endedAt,
      p50: got.latenessMs.p50,
      p90: got.latenessMs.p90,
      p99: got.latenessMs.p99,
      max: got.latenessMs.max,
      cpuSeconds,
      lateBySecond,
      redisForks,
      load: l1,
    };
  } finally {
    await server.stop();
  }
}

export async function timingScenario(ctx: BenchContext, store: StoreName): Promise<{ runs: TimingRun[]; rows: Row[] }> {
  const runs: TimingRun[] = [];
  for (let i = 0; i < ctx.options.runs; i++) {
    const run = await oneRun(ctx, store);
    runs.push(run);
    log(
      `timing/${store} run ${i + 1}: ${fmt(run.delivered)}/${fmt(run.tasks)} delivered; lateness p50 ${ms(run.p50)} p90 ${ms(run.p90)}` +
        ` p99 ${ms(run.p99)} max ${ms(run.max)} | subscribed at ${fmt(run.subscribeRate)}/s, margin ${ms(run.marginMs)} | CPU s ${JSON.stringify(run.cpuSeconds)}`,
    );
    log(`  deliveries > 10 ms late, by second of the due window: ${JSON.stringify(run.lateBySecond)}`);
    if (run.redisForks)
      log(`  redis-server forks during the window: ${run.redisForks.forks} (the last took ${fmt(run.redisForks.latestForkUs)} µs)`);
    if (run.profile) log(`  due window of the profile: ${run.profile.command}`);
  }
  const m = (f: (r: TimingRun) => number): number => median(runs.map(f));
  const p99 = m((r) => r.p99);
  const max = m((r) => r.max);
  const notes: string[] = [];
  const missing = runs.reduce((a, x) => a + (x.tasks - x.delivered), 0);
  if (missing > 0) notes.push(`${missing} task(s) not delivered (${runs.reduce((a, x) => a + x.subscribeFailed, 0)} not subscribed)`);
  const overlapped = runs.filter((x) => x.marginMs < 0).length;
  if (overlapped > 0) notes.push(`${overlapped} run(s) started falling due before subscribing ended`);
  const worst = Math.max(...runs.map((r) => r.max));
  if (runs.length > 1) notes.push(`worst max over ${runs.length} runs: ${ms(worst)}`);
  const { timingRate, timingSeconds } = ctx.options.sizes;
  const row: Row = {
    scenario: 'timing',
    store,
    figure: `${fmt(timingRate)}/s × ${timingSeconds} s: lateness p50 ${ms(m((r) => r.p50))} · p99 ${ms(p99)} · max ${ms(max)}`,
    ceiling: '—',
    ratio: '—',
    target: 'p99 ≤ 10 ms · max ≤ 50 ms',
    verdict: verdict(p99 <= 10 && max <= 50 && missing === 0),
    notes,
  };
  return { runs, rows: [row] };
}
