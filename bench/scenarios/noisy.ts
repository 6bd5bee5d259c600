/*
 * 4. Noisy neighbour: project A subscribes `noisyHanging` tasks (all due at once, timeout 600 s) to a
 * target that accepts connections and never answers; once A holds its share of the slots, project B
 * subscribes `noisyRate` tasks/s for `noisySeconds` (executionAt spaced evenly) to the fast target.
 * The figure is B's lateness (arrival − due, as in the timing scenario): without shares, A's tasks
 * would hold every slot for 600 s and B's would wait behind them.
 */
import { type AddressInfo, type Socket, createServer } from 'node:net';
import type { BenchContext } from '../lib/context.js';
import { authHeaders, log } from '../lib/context.js';
import { readDeliveries } from '../lib/deliveries.js';
import type { StoreName } from '../lib/options.js';
import { sleep } from '../lib/procs.js';
import { type Row, fmt, ms, verdict } from '../lib/report.js';
import { median } from '../lib/stats.js';

export interface NoisyRun {
  victimTasks: number;
  delivered: number;
  duplicates: number;
  p50: number;
  p99: number;
  max: number;
  /** Connections the neighbour's tasks held open on the hanging target: its share of the slots. */
  neighbourHeld: number;
  concurrency: number;
}

/** A target that accepts connections on 127.0.0.2 (a host of its own) and never answers. */
async function hangingTarget(): Promise<{ url: string; open: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('data', () => undefined);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.2', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.2:${port}`,
    open: () => sockets.size,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function oneRun(ctx: BenchContext, store: StoreName): Promise<NoisyRun> {
  const { noisyHanging, noisyRate, noisySeconds } = ctx.options.sizes;
  const hanging = await hangingTarget();
  const server = await ctx.startServer(store, 'noisy', { env: { TASKS_ALLOW_TARGETS: '127.0.0.0/8' } });
  try {
    const neighbour = await ctx.register(server);
    const victim = await ctx.register(server);
    const base = { origin: server.url, spacingMs: 0, concurrency: ctx.options.connections };
    const flood = await ctx.loadgen.call(
      'subscribeBatch',
      {
        ...base,
        headers: authHeaders(neighbour),
        target: hanging.url,
        n: noisyHanging,
        plan: ctx.duePlan(noisyHanging),
        timeout: '600s',
      },
      300_000,
    );
    // The neighbour fills what it may of the slots, then stops growing.
    let held = -1;
    for (let i = 0; i < 100 && hanging.open() !== held; i++) {
      held = hanging.open();
      await sleep(200);
    }
    const n = noisyRate * noisySeconds;
    await ctx.target.call('reset', { expected: n });
    const batch = await ctx.loadgen.call(
      'subscribeBatch',
      { ...base, headers: authHeaders(victim), target: ctx.targetUrl, n, plan: ctx.duePlan(n), spacingMs: 1000 / noisyRate },
      300_000,
    );
    await ctx.waitForTarget(batch.ok, batch.dueStart + noisySeconds * 1000 + 30_000);
    const got = await readDeliveries(ctx, n);
    if (flood.failed > 0 || batch.failed > 0) {
      log(
        `  subscribes refused: neighbour ${flood.failed}, victim ${batch.failed}: ${[...flood.errorSamples, ...batch.errorSamples].slice(0, 2).join(' | ')}`,
      );
    }
    return {
      victimTasks: n,
      delivered: got.distinct,
      duplicates: got.duplicates,
      p50: got.latenessMs.p50,
      p99: got.latenessMs.p99,
      max: got.latenessMs.max,
      neighbourHeld: hanging.open(),
      concurrency: ctx.options.concurrency,
    };
  } finally {
    await server.stop();
    await hanging.close();
  }
}

export async function noisyScenario(ctx: BenchContext, store: StoreName): Promise<{ runs: NoisyRun[]; rows: Row[] }> {
  const runs: NoisyRun[] = [];
  for (let i = 0; i < ctx.options.runs; i++) {
    const run = await oneRun(ctx, store);
    runs.push(run);
    log(
      `noisy/${store} run ${i + 1}: victim ${fmt(run.delivered)}/${fmt(run.victimTasks)} delivered; lateness p50 ${ms(run.p50)}` +
        ` p99 ${ms(run.p99)} max ${ms(run.max)} | neighbour holds ${run.neighbourHeld} of ${run.concurrency} slots`,
    );
  }
  const m = (f: (r: NoisyRun) => number): number => median(runs.map(f));
  const p99 = m((r) => r.p99);
  const missing = runs.reduce((a, x) => a + (x.victimTasks - x.delivered), 0);
  const { noisyHanging, noisyRate, noisySeconds } = ctx.options.sizes;
  const row: Row = {
    scenario: 'noisy',
    store,
    figure:
      `${fmt(noisyHanging)} hanging + ${fmt(noisyRate)}/s × ${noisySeconds} s: victim lateness p50 ${ms(m((r) => r.p50))} · p99 ${ms(p99)}` +
      ` · max ${ms(m((r) => r.max))}; neighbour holds ${m((r) => r.neighbourHeld)} of ${runs[0]?.concurrency ?? 0} slots`,
    ceiling: '—',
    ratio: '—',
    target: 'victim p99 ≤ 100 ms',
    verdict: verdict(p99 <= 100 && missing === 0),
    notes: missing > 0 ? [`${missing} victim task(s) not delivered`] : [],
  };
  return { runs, rows: [row] };
}
