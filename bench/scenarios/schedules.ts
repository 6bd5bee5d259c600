/*
 * Schedules: how close to its instant each run fires. SCHEDULES schedules of `* * * * * *` (every
 * second), each from a whole second a little ahead to SECONDS later, all sending to the target. A
 * run's instant is a whole second, so lateness = a time − the second it belongs to, measured twice:
 *   fired: the attempt's start as its attempt log records it (the server lets the request go);
 *   arrived: when the target had read the whole request (Date.now() there: one machine, one
 *     clock), which adds the sending, the target's own queue of the burst and its parsing.
 * Every instant is a burst of SCHEDULES deliveries at once, the hard case for a cron service. The
 * target is judged on `fired` (the issue: runs fire within 10 ms of their instant).
 */
import { request } from 'undici';
import type { BenchContext } from '../lib/context.js';
import { type Credentials, type MachineLoad, authHeaders, log, machineLoad } from '../lib/context.js';
import type { StoreName } from '../lib/options.js';
import { cpuMeter, sleep } from '../lib/procs.js';
import { type Row, fmt, ms, verdict } from '../lib/report.js';
import { median, summarize } from '../lib/stats.js';

/** Runs due at each instant: a burst the dispatcher sends at once, so its later ones wait for the earlier ones' CPU. */
const SCHEDULES = 20;
/** Attempt logs read at once after a run. */
const ATTEMPT_READS = 20;

export interface SchedulesRun {
  schedules: number;
  seconds: number;
  expected: number;
  delivered: number;
  /** Fired: the attempt's start after the instant. */
  p50: number;
  p99: number;
  max: number;
  /** Arrived: at the target, after the instant. */
  arrived: { p50: number; p99: number; max: number };
  /** The latest run of each second from the first instant: the first burst opens the connections. */
  worstBySecond: number[];
  cpuSeconds: Record<string, number>;
  load: MachineLoad;
}

/** The start of every attempt of the project's tasks, from their attempt logs (the runs each made one). */
async function attemptStarts(url: string, creds: Credentials): Promise<number[]> {
  const ids: string[] = [];
  for (let cursor: string | null = ''; cursor !== null;) {
    const res = await request(`${url}/v1beta/queues?limit=1000${cursor ? `&cursor=${cursor}` : ''}`, { headers: authHeaders(creds) });
    const page = (await res.body.json()) as { tasks: { id: string }[]; nextCursor: string | null };
    for (const task of page.tasks) ids.push(task.id);
    cursor = page.nextCursor;
  }
  const starts: number[] = [];
  for (let i = 0; i < ids.length; i += ATTEMPT_READS) {
    const pages = await Promise.all(
      ids.slice(i, i + ATTEMPT_READS).map(async (id) => {
        const res = await request(`${url}/v1beta/queues/${id}/attempts`, { headers: authHeaders(creds) });
        return (await res.body.json()) as { startedAt: number }[];
      }),
    );
    for (const attempts of pages) for (const attempt of attempts) starts.push(attempt.startedAt);
  }
  return starts;
}

async function oneRun(ctx: BenchContext, store: StoreName): Promise<SchedulesRun> {
  const seconds = ctx.options.quick ? 10 : 30;
  const expected = SCHEDULES * seconds;
  const load = machineLoad();
  const server = await ctx.startServer(store, 'schedules');
  try {
    const creds = await ctx.register(server);
    await ctx.target.call('reset', { expected });
    // Far enough ahead that every schedule exists before the first instant.
    const startAt = Math.ceil(Date.now() / 1000) * 1000 + 5_000;
    for (let i = 0; i < SCHEDULES; i++) {
      const res = await request(`${server.url}/v1beta/schedules`, {
        method: 'POST',
        headers: { ...authHeaders(creds), 'content-type': 'application/json' },
        body: JSON.stringify({
          cron: '* * * * * *',
          overlap: 'allow',
          startAt,
          endAt: startAt + seconds * 1000,
          httpRequest: { url: `${ctx.targetUrl}/s${i}`, method: 'POST' },
        }),
      });
      const body = await res.body.text();
      if (res.statusCode !== 201) throw new Error(`creating a schedule answered ${res.statusCode}: ${body}`);
    }
    if (Date.now() < startAt) await sleep(startAt - Date.now());
    const meter = cpuMeter({ server: server.pid, redis: store === 'redis' ? ctx.redisPid : -1 });
    const delivered = await ctx.waitForTarget(expected, startAt + seconds * 1000 + 15_000);
    const cpuSeconds = meter();
    const { at } = await ctx.target.call('records', null);
    const arrived = summarize(Array.from(at, (a) => a - Math.floor(a / 1000) * 1000));
    const s = summarize((await attemptStarts(server.url, creds)).map((a) => a - Math.floor(a / 1000) * 1000));
    const worstBySecond: number[] = [];
    for (const a of at) {
      const second = Math.floor(a / 1000) - startAt / 1000;
      worstBySecond[second] = Math.max(worstBySecond[second] ?? 0, a % 1000);
    }
    return {
      schedules: SCHEDULES,
      seconds,
      expected,
      delivered,
      p50: s.p50,
      p99: s.p99,
      max: s.max,
      arrived: { p50: arrived.p50, p99: arrived.p99, max: arrived.max },
      worstBySecond,
      cpuSeconds,
      load,
    };
  } finally {
    await server.stop();
  }
}

export async function schedulesScenario(ctx: BenchContext, store: StoreName): Promise<{ runs: SchedulesRun[]; rows: Row[] }> {
  const runs: SchedulesRun[] = [];
  for (let i = 0; i < ctx.options.runs; i++) {
    const run = await oneRun(ctx, store);
    runs.push(run);
    log(
      `schedules/${store} run ${i + 1}: ${fmt(run.delivered)}/${fmt(run.expected)} delivered; fired p50 ${ms(run.p50)} p99 ${ms(run.p99)}` +
        ` max ${ms(run.max)}; arrived p50 ${ms(run.arrived.p50)} p99 ${ms(run.arrived.p99)} max ${ms(run.arrived.max)}; arrived worst per second ${run.worstBySecond.join(' ')} | CPU s ${JSON.stringify(run.cpuSeconds)}`,
    );
  }
  const m = (f: (r: SchedulesRun) => number): number => median(runs.map(f));
  const missing = runs.reduce((a, r) => a + Math.max(0, r.expected - r.delivered), 0);
  const extra = runs.reduce((a, r) => a + Math.max(0, r.delivered - r.expected), 0);
  const notes: string[] = [];
  if (missing > 0) notes.push(`${missing} run(s) not delivered`);
  if (extra > 0) notes.push(`${extra} delivery(ies) more than runs`);
  const p99 = m((r) => r.p99);
  const row: Row = {
    scenario: 'schedules',
    store,
    figure:
      `${SCHEDULES} schedules × every second × ${runs[0]?.seconds ?? 0} s: fired p50 ${ms(m((r) => r.p50))} · p99 ${ms(p99)} · max ${ms(m((r) => r.max))};` +
      ` arrived p50 ${ms(m((r) => r.arrived.p50))} · p99 ${ms(m((r) => r.arrived.p99))} · max ${ms(m((r) => r.arrived.max))}`,
    ceiling: '—',
    ratio: '—',
    target: 'p99 ≤ 10 ms',
    verdict: verdict(p99 <= 10 && missing === 0 && extra === 0),
    notes,
  };
  return { runs, rows: [row] };
}
