/*
 * 5. Flow control: one flow key limited to `flowRate` starts/s (PUT /v1beta/flow/:key), and a
 * backlog of its tasks all due at once, more than the key lets start in `flowSeconds` + 2 s. The
 * figure is how many reached the target in the `flowSeconds` from the first delivery, against
 * flowRate × flowSeconds: the limit must hold to within 2% (core/flow.ts: the rate's window and
 * its pace), while the dispatcher has slots to spare.
 */
import { request } from 'undici';
import type { BenchContext } from '../lib/context.js';
import { authHeaders, log } from '../lib/context.js';
import type { StoreName } from '../lib/options.js';
import { type Row, fmt, verdict } from '../lib/report.js';
import { median } from '../lib/stats.js';

export interface FlowRun {
  rate: number;
  seconds: number;
  tasks: number;
  /** Deliveries in the `seconds` from the first one. */
  inWindow: number;
  /** inWindow against rate × seconds, as a fraction (0.01: 1% over). */
  deviation: number;
  duplicates: number;
}

async function oneRun(ctx: BenchContext, store: StoreName): Promise<FlowRun> {
  const { flowRate, flowSeconds } = ctx.options.sizes;
  const n = flowRate * (flowSeconds + 2);
  const server = await ctx.startServer(store, 'flow');
  try {
    const creds = await ctx.register(server);
    const put = await request(`${server.url}/v1beta/flow/bench`, {
      method: 'PUT',
      headers: { ...authHeaders(creds), 'content-type': 'application/json' },
      body: JSON.stringify({ rate: { limit: flowRate, periodMs: 1000 } }),
    });
    if (put.statusCode !== 200) throw new Error(`PUT /v1beta/flow/bench answered ${put.statusCode}: ${await put.body.text()}`);
    await put.body.dump();
    await ctx.target.call('reset', { expected: n });
    const batch = await ctx.loadgen.call(
      'subscribeBatch',
      {
        origin: server.url,
        headers: authHeaders(creds),
        target: ctx.targetUrl,
        n,
        plan: ctx.duePlan(n),
        spacingMs: 0,
        concurrency: ctx.options.connections,
        flowKey: 'bench',
      },
      600_000,
    );
    // Past the window: a second's worth of deliveries after it.
    await ctx.waitForTarget(flowRate * (flowSeconds + 1), batch.dueStart + (flowSeconds + 30) * 1000);
    const { at, index } = await ctx.target.call('records', null);
    const seen = new Set<number>();
    let duplicates = 0;
    let first = Infinity;
    for (let k = 0; k < at.length; k++) {
      if (index[k]! < 0) continue;
      if (seen.has(index[k]!)) duplicates++;
      seen.add(index[k]!);
      first = Math.min(first, at[k]!);
    }
    let inWindow = 0;
    for (let k = 0; k < at.length; k++) if (index[k]! >= 0 && at[k]! >= first && at[k]! < first + flowSeconds * 1000) inWindow++;
    const expected = flowRate * flowSeconds;
    return { rate: flowRate, seconds: flowSeconds, tasks: n, inWindow, deviation: (inWindow - expected) / expected, duplicates };
  } finally {
    await server.stop();
  }
}

export async function flowScenario(ctx: BenchContext, store: StoreName): Promise<{ runs: FlowRun[]; rows: Row[] }> {
  const runs: FlowRun[] = [];
  for (let i = 0; i < ctx.options.runs; i++) {
    const run = await oneRun(ctx, store);
    runs.push(run);
    log(
      `flow/${store} run ${i + 1}: ${fmt(run.inWindow)} delivered in the ${run.seconds} s from the first at ${fmt(run.rate)}/s` +
        ` (${(run.deviation * 100).toFixed(2)}%), ${run.duplicates} duplicate(s)`,
    );
  }
  const deviation = median(runs.map((r) => r.deviation));
  const worst = Math.max(...runs.map((r) => Math.abs(r.deviation)));
  const { flowRate, flowSeconds } = ctx.options.sizes;
  const row: Row = {
    scenario: 'flow',
    store,
    figure: `one key at ${fmt(flowRate)}/s: ${fmt(median(runs.map((r) => r.inWindow)))} delivered in ${flowSeconds} s (${(deviation * 100).toFixed(2)}%)`,
    ceiling: '—',
    ratio: '—',
    target: 'within 2% of the rate',
    verdict: verdict(worst <= 0.02 && runs.every((r) => r.duplicates === 0)),
    notes: [],
  };
  return { runs, rows: [row] };
}
