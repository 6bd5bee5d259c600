/*
 * 7. Listing: GET /v1beta/queues on a store filled with 1,000,000 tasks (bench/fill-store.ts --mix:
 * four projects, eight tags, eight target hosts; most RUNNING, some PAUSED, COMPLETED, CANCELED),
 * pages of 100. Each case follows nextCursor page after page (back to its first page at the end):
 * the first page of the project's tasks, pages deep in it (from the middle of the fill on), a state
 * filter (PAUSED, a tenth of the tasks), a tag filter and a host filter. Latency is the client's:
 * request sent to answer read, one request at a time on a keep-alive connection.
 *
 * Then, on the same server and its million tasks, GET /metrics: SCRAPES scrapes, timed the same way
 * (the scrape must not grow with the tasks pending: docs/operations.md#monitor).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { type BenchContext, type Credentials, authHeaders, log } from '../lib/context.js';
import { cpuSecondsOf, sleep } from '../lib/procs.js';
import type { StoreName } from '../lib/options.js';
import { type Row, fmt, ms, verdict } from '../lib/report.js';
import { summarize } from '../lib/stats.js';
import { fill } from './scale.js';

/** Pages timed per case. */
const PAGES = 300;
/** The target: a page of 100 at p99. */
const P99_TARGET_MS = 10;
/** Scrapes of GET /metrics timed, after as many to warm up; the target is the same as a page's. */
const SCRAPES = 300;

interface ListingCase {
  name: string;
  query: string;
  p50: number;
  p99: number;
  max: number;
  tasksPerPage: number;
  /** The server process's CPU per timed page, in ms (steadier than latency on a busy machine). */
  serverCpuMs: number;
  /** Redis only: forks of redis-server while the case ran, and whether a child was writing at its start. */
  redis?: { forks: number; childAtStart: boolean };
}

export interface ListingRun {
  tasks: number;
  fillMs: number;
  cases: ListingCase[];
  /** GET /metrics on the same server, in ms. */
  scrape: { p50: number; p99: number; max: number; bytes: number; serverCpuMs: number };
}

/** The scrapes' latency, and the server's CPU per scrape (steadier than latency on a busy machine). */
async function timeScrapes(pool: Pool, serverPid: number): Promise<ListingRun['scrape']> {
  const latencies: number[] = [];
  let bytes = 0;
  let cpuAtStart = 0;
  for (let i = 0; i < SCRAPES * 2; i++) {
    if (i === SCRAPES) cpuAtStart = cpuSecondsOf(serverPid);
    const t0 = performance.now();
    const res = await pool.request({ method: 'GET', path: '/metrics' });
    const text = await res.body.text();
    const took = performance.now() - t0;
    if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}: ${text.slice(0, 200)}`);
    if (i >= SCRAPES) latencies.push(took);
    bytes = text.length;
  }
  const serverCpuMs = ((cpuSecondsOf(serverPid) - cpuAtStart) * 1000) / SCRAPES;
  const s = summarize(latencies);
  return { p50: s.p50, p99: s.p99, max: s.max, bytes, serverCpuMs };
}

async function timeCase(
  ctx: BenchContext,
  pool: Pool,
  creds: Credentials,
  serverPid: number,
  name: string,
  query: string,
): Promise<ListingCase> {
  const persistenceBefore = ctx.redis ? await ctx.redisPersistence() : null;
  const latencies: number[] = [];
  let tasks = 0;
  let cursor: string | null = null;
  let cpuAtStart = 0;
  for (let i = 0; i < PAGES + 20; i++) {
    if (i === 20) cpuAtStart = cpuSecondsOf(serverPid);
    const path = `/v1beta/queues?limit=100&${query}${cursor === null ? '' : `&cursor=${cursor}`}`;
    const t0 = performance.now();
    const res = await pool.request({ method: 'GET', path, headers: authHeaders(creds) });
    const body = (await res.body.json()) as { tasks: unknown[]; nextCursor: string | null };
    const took = performance.now() - t0;
    if (res.statusCode !== 200) throw new Error(`${path} answered ${res.statusCode}: ${JSON.stringify(body)}`);
    // The first 20 warm the connection and the server's statements.
    if (i >= 20) {
      latencies.push(took);
      tasks += body.tasks.length;
    }
    cursor = body.nextCursor;
  }
  const serverCpuMs = ((cpuSecondsOf(serverPid) - cpuAtStart) * 1000) / PAGES;
  const s = summarize(latencies);
  const timed: ListingCase = { name, query, p50: s.p50, p99: s.p99, max: s.max, tasksPerPage: tasks / PAGES, serverCpuMs };
  if (persistenceBefore) {
    const after = await ctx.redisPersistence();
    timed.redis = { forks: after.forks - persistenceBefore.forks, childAtStart: persistenceBefore.childRunning };
  }
  return timed;
}

/** How long a fill's snapshot or AOF rewrite may still be written before the cases are timed anyway. */
const SETTLE_MS = 180_000;

/**
 * Waits until redis-server writes no snapshot or AOF rewrite: a fill of a million tasks may set one
 * off (the shipped `save` rules, the AOF's growth), and its child would take a core from the cases,
 * which is the fill's doing, not the listing's. Answers how long it waited.
 */
async function settleRedis(ctx: BenchContext): Promise<number> {
  const started = Date.now();
  while ((await ctx.redisPersistence()).childRunning && Date.now() - started < SETTLE_MS) {
    await sleep(250);
  }
  return Date.now() - started;
}

async function oneRun(ctx: BenchContext, store: StoreName): Promise<ListingRun> {
  const count = ctx.options.sizes.listingTasks;
  let sqlitePath: string | undefined;
  let db: string;
  if (store === 'sqlite') {
    sqlitePath = join(ctx.sqliteDir('listing'), 'tasks.db');
    db = `sqlite:${sqlitePath}`;
  } else {
    await ctx.flushRedis();
    db = ctx.redis!.url;
  }
  log(`listing/${store}: filling ${fmt(count)} tasks`);
  const fillStart = Date.now();
  const filled = await fill(ctx, db, count, ['--mix']);
  const middle = fillStart + Math.round((Date.now() - fillStart) / 2);
  log(`listing/${store}: filled in ${ms(filled.ms)} (${fmt(count / (filled.ms / 1000))}/s)`);
  if (store === 'redis')
    log(`listing/redis: waited ${ms(await settleRedis(ctx))} for redis-server's snapshot or AOF rewrite after the fill`);
  const server = await ctx.startServer(store, 'listing', { sqlitePath, keepRedis: true });
  const pool = new Pool(server.url, { connections: 1 });
  try {
    const creds = filled.projects[0]!;
    const cases: ListingCase[] = [];
    for (const [name, query] of [
      ['first page', ''],
      ['deep pages', `createdTo=${middle}`],
      ['state=PAUSED', 'state=PAUSED'],
      ['tag', 'tag=beta'],
      ['host', 'host=host3.bench.test'],
      ['state=PAUSED&tag', 'state=PAUSED&tag=beta'],
    ] as const) {
      cases.push(await timeCase(ctx, pool, creds, server.pid, name, query));
    }
    const scrape = await timeScrapes(pool, server.pid);
    return { tasks: count, fillMs: filled.ms, cases, scrape };
  } finally {
    await pool.close();
    await server.stop();
    if (sqlitePath) rmSync(join(sqlitePath, '..'), { recursive: true, force: true });
    if (store === 'redis') await ctx.flushRedis();
  }
}

export async function listingScenario(ctx: BenchContext, store: StoreName): Promise<{ runs: ListingRun[]; rows: Row[] }> {
  const runs: ListingRun[] = [];
  for (let i = 0; i < ctx.options.runs; i++) {
    const run = await oneRun(ctx, store);
    runs.push(run);
    for (const c of run.cases) {
      log(
        `listing/${store} run ${i + 1}: ${c.name} (${c.query || 'no filter'}): p50 ${ms(c.p50)} p99 ${ms(c.p99)} max ${ms(c.max)}, ${fmt(c.tasksPerPage)} tasks a page, server CPU ${ms(c.serverCpuMs)} a page` +
          (c.redis ? ` | redis-server forks ${c.redis.forks}${c.redis.childAtStart ? ' (a child writing at the start)' : ''}` : ''),
      );
    }
    log(
      `listing/${store} run ${i + 1}: GET /metrics: p50 ${ms(run.scrape.p50)} p99 ${ms(run.scrape.p99)} max ${ms(run.scrape.max)}, server CPU ${ms(run.scrape.serverCpuMs)} a scrape, ${fmt(run.scrape.bytes)} bytes`,
    );
  }
  // The figures of the last run (one run is the default for this scenario's size).
  const last = runs[runs.length - 1]!;
  const rows: Row[] = last.cases.map((c) => ({
    scenario: 'listing',
    store,
    figure: `${c.name}: p50 ${ms(c.p50)} · p99 ${ms(c.p99)} · CPU ${ms(c.serverCpuMs)} (${fmt(last.tasks)} tasks, ${fmt(c.tasksPerPage)} a page)`,
    ceiling: '—',
    ratio: '—',
    target: `p99 ≤ ${P99_TARGET_MS} ms`,
    verdict: verdict(c.p99 <= P99_TARGET_MS),
    notes: [],
  }));
  rows.push({
    scenario: 'listing',
    store,
    figure: `GET /metrics: p50 ${ms(last.scrape.p50)} · p99 ${ms(last.scrape.p99)} · CPU ${ms(last.scrape.serverCpuMs)} (${fmt(last.tasks)} tasks)`,
    ceiling: '—',
    ratio: '—',
    target: `p99 ≤ ${P99_TARGET_MS} ms`,
    verdict: verdict(last.scrape.p99 <= P99_TARGET_MS),
    notes: [],
  });
  return { runs, rows };
}
