/*
 * 4. Scale of the schedule: the server's RSS with 1,000,000 pending tasks on SQLite (200,000 on
 * Redis), due far in the future, after a settle period and after the subscribe load; and subscribe
 * throughput at that size against an empty store measured in the same run. The store is filled by
 * bench/fill-store.ts through the project's own store classes (SQLite: once, then copied for each
 * run so every run starts from the same file; Redis: refilled for each run).
 */
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, fsyncSync, openSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadResult } from '../children/loadgen.js';
import { type BenchContext, CRYPTO_KEY, type Credentials, type MachineLoad, log, machineLoad } from '../lib/context.js';
import type { StoreName } from '../lib/options.js';
import { REPO, memoryOf, sleep, track } from '../lib/procs.js';
import { type Row, fmt, ms, ratio, verdict } from '../lib/report.js';
import { median } from '../lib/stats.js';
import { subscribeLoad } from './subscribe.js';

export interface ScaleRun {
  pending: number;
  fillMs: number;
  startupMs: number;
  rssSettledMb: number;
  rssAfterLoadMb: number;
  peakRssMb: number;
  emptyRssAfterLoadMb: number;
  rps: number;
  p99: number;
  emptyRps: number;
  emptyP99: number;
  ratio: number;
  errors: number;
  redisUsedMemoryMb: number;
  dbFileMb: number;
  /**
   * What one pending task costs the store, measured after the fill and before any load: Redis's
   * used_memory grown by the fill, or the SQLite file's size, over the tasks filled.
   */
  bytesPerTask: number;
  /** Redis only: used_memory grown per delayed BullMQ job with the same body, on the same Redis, in the same run. */
  bullmqBytesPerJob: number;
  load: MachineLoad;
}

/** Runs bench/fill-store.ts in its own process (`extra`: more of its options); answers the projects it created. */
export async function fill(
  ctx: BenchContext,
  db: string,
  count: number,
  extra: readonly string[] = [],
): Promise<Credentials & { ms: number; projects: Credentials[] }> {
  const proc = track(
    spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(REPO, 'bench/fill-store.ts'),
        '--db',
        db,
        '--count',
        String(count),
        '--key',
        CRYPTO_KEY,
        '--target',
        ctx.targetUrl,
        ...extra,
      ],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] },
    ),
  );
  let out = '';
  proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
  if (code !== 0) throw new Error(`fill-store exited with ${code}`);
  const last = out.trim().split('\n').pop() ?? '';
  const parsed = JSON.parse(last) as { projectId: string; token: string; ms: number; projects: Credentials[] };
  return { id: parsed.projectId, token: parsed.token, ms: parsed.ms, projects: parsed.projects };
}

/**
 * Flushes a file to disk: a freshly written or copied database is gigabytes of dirty page cache,
 * and the server's first WAL checkpoint (which fsyncs the file) would otherwise pay for writing it.
 */
function flush(path: string): void {
  if (!existsSync(path)) return;
  const fd = openSync(path, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

let sqliteBase: { path: string; creds: Credentials; fillMs: number; count: number; bytesPerTask: number } | null = null;

/**
 * BullMQ's memory per delayed job, as the reference for ours: `count` jobs added the way the
 * BullMQ scenario adds them (same payload, 4 attempts 10 s apart), due in 7 days, on a flushed Redis.
 */
async function bullmqBytesPerJob(ctx: BenchContext, count: number): Promise<number> {
  await ctx.flushRedis();
  const before = await ctx.redisUsedMemory();
  const redis = { host: '127.0.0.1', port: ctx.redis!.port };
  await ctx.loadgen.call(
    'bullmqEnqueue',
    {
      redis,
      queue: 'scale',
      n: count,
      plan: { kind: 'fixed', dueStart: Date.now() + 7 * 86_400_000 },
      concurrency: ctx.options.connections,
    },
    900_000,
  );
  const bytes = ((await ctx.redisUsedMemory()) - before) / count;
  await ctx.flushRedis();
  return bytes;
}

async function emptyLoad(ctx: BenchContext, store: StoreName): Promise<{ result: LoadResult; rssMb: number }> {
  const server = await ctx.startServer(store, 'scale-empty');
  try {
    const creds = await ctx.register(server);
    const result = await subscribeLoad(ctx, server, creds);
    return { result, rssMb: memoryOf(server.pid).rssMb };
  } finally {
    await server.stop();
  }
}

async function oneRun(ctx: BenchContext, store: StoreName): Promise<ScaleRun> {
  const { sizes } = ctx.options;
  const count = store === 'sqlite' ? sizes.scaleSqlite : sizes.scaleRedis;
  const l1 = machineLoad();
  const empty = await emptyLoad(ctx, store);

  let creds: Credentials;
  let fillMs: number;
  let bytesPerTask: number;
  let bullmqBytes = NaN;
  let sqlitePath: string | undefined;
  if (store === 'sqlite') {
    if (!sqliteBase || sqliteBase.count !== count) {
      const dir = ctx.sqliteDir('scale-base');
      const path = join(dir, 'tasks.db');
      log(`scale/sqlite: filling ${fmt(count)} tasks (once; copied for each run)`);
      const filled = await fill(ctx, `sqlite:${path}`, count);
      flush(path);
      sqliteBase = { path, creds: filled, fillMs: filled.ms, count, bytesPerTask: statSync(path).size / count };
      log(`scale/sqlite: filled in ${ms(filled.ms)} (${fmt(count / (filled.ms / 1000))}/s), ${fmt(statSync(path).size / 1048576)} MB`);
    }
    const dir = ctx.sqliteDir('scale-full-sqlite');
    sqlitePath = join(dir, 'tasks.db');
    copyFileSync(sqliteBase.path, sqlitePath);
    if (existsSync(`${sqliteBase.path}-wal`)) copyFileSync(`${sqliteBase.path}-wal`, `${sqlitePath}-wal`);
    flush(sqlitePath);
    flush(`${sqlitePath}-wal`);
    creds = sqliteBase.creds;
    fillMs = sqliteBase.fillMs;
    bytesPerTask = sqliteBase.bytesPerTask;
  } else {
    bullmqBytes = await bullmqBytesPerJob(ctx, count);
    log(`scale/redis: BullMQ holds a delayed job in ${fmt(bullmqBytes)} bytes`);
    await ctx.flushRedis();
    const before = await ctx.redisUsedMemory();
    log(`scale/redis: filling ${fmt(count)} tasks`);
    const filled = await fill(ctx, ctx.redis!.url, count);
    bytesPerTask = ((await ctx.redisUsedMemory()) - before) / count;
    log(`scale/redis: filled in ${ms(filled.ms)} (${fmt(count / (filled.ms / 1000))}/s), ${fmt(bytesPerTask)} bytes per pending task`);
    creds = filled;
    fillMs = filled.ms;
  }

  const t0 = Date.now();
  const server = await ctx.startServer(store, 'scale-full', { sqlitePath, keepRedis: true });
  const startupMs = Date.now() - t0;
  try {
    await sleep(sizes.scaleSettleMs);
    const settled = memoryOf(server.pid);
    const result = await subscribeLoad(ctx, server, creds);
    const after = memoryOf(server.pid);
    const run: ScaleRun = {
      pending: count,
      fillMs,
      startupMs,
      rssSettledMb: settled.rssMb,
      rssAfterLoadMb: after.rssMb,
      peakRssMb: after.peakRssMb,
      emptyRssAfterLoadMb: empty.rssMb,
      rps: result.rps,
      p99: result.latencyMs.p99,
      emptyRps: empty.result.rps,
      emptyP99: empty.result.latencyMs.p99,
      ratio: result.rps / empty.result.rps,
      errors: result.errors + empty.result.errors,
      redisUsedMemoryMb: store === 'redis' ? await ctx.redisMemoryMb() : NaN,
      dbFileMb: sqlitePath ? statSync(sqlitePath).size / 1048576 : NaN,
      bytesPerTask,
      bullmqBytesPerJob: bullmqBytes,
      load: l1,
    };
    return run;
  } finally {
    await server.stop();
    if (sqlitePath) rmSync(join(sqlitePath, '..'), { recursive: true, force: true });
  }
}

export async function scaleScenario(ctx: BenchContext, store: StoreName): Promise<{ runs: ScaleRun[]; rows: Row[] }> {
  const runs: ScaleRun[] = [];
  for (let i = 0; i < ctx.options.runs; i++) {
    const run = await oneRun(ctx, store);
    runs.push(run);
    log(
      `scale/${store} run ${i + 1}: ${fmt(run.pending)} pending; start-up ${ms(run.startupMs)}; RSS settled ${fmt(run.rssSettledMb)} MB,` +
        ` after load ${fmt(run.rssAfterLoadMb)} MB (peak ${fmt(run.peakRssMb)}; empty store after load ${fmt(run.emptyRssAfterLoadMb)})` +
        ` | subscribe ${fmt(run.rps)} req/s p99 ${ms(run.p99)} vs empty ${fmt(run.emptyRps)} req/s p99 ${ms(run.emptyP99)} | ratio ${ratio(run.ratio)}` +
        (store === 'redis' ? ` | redis used_memory ${fmt(run.redisUsedMemoryMb)} MB` : ` | file ${fmt(run.dbFileMb)} MB`),
    );
  }
  const m = (f: (r: ScaleRun) => number): number => median(runs.map(f));
  const count = runs[0]?.pending ?? 0;
  const settled = m((r) => r.rssSettledMb);
  const after = m((r) => r.rssAfterLoadMb);
  const r = m((x) => x.ratio);
  const errors = runs.reduce((a, x) => a + x.errors, 0);
  const notes: string[] = [];
  if (errors > 0) notes.push(`${errors} failed subscribes during the loads`);
  const full = store === 'sqlite' ? count >= 1_000_000 : count >= 200_000;
  if (!full) notes.push(`scaled down to ${fmt(count)} pending tasks (targets are for ${store === 'sqlite' ? '1,000,000' : '200,000'})`);
  const extra = store === 'redis' ? ` · Redis itself ${fmt(m((x) => x.redisUsedMemoryMb))} MB` : '';
  const rows: Row[] = [
    {
      scenario: 'scale RSS',
      store,
      figure: `${fmt(count)} pending: RSS ${fmt(settled)} MB settled · ${fmt(after)} MB after load (peak ${fmt(m((x) => x.peakRssMb))})${extra}`,
      ceiling: `empty store ${fmt(m((x) => x.emptyRssAfterLoadMb))} MB after load`,
      ratio: '—',
      target: store === 'sqlite' ? '≤ 250 MB' : '—',
      verdict: store === 'sqlite' ? verdict(Math.max(settled, after) <= 250) : 'info',
      notes,
    },
    {
      scenario: 'scale bytes',
      store,
      figure: `${fmt(m((x) => x.bytesPerTask))} bytes per pending task (${store === 'redis' ? 'Redis used_memory' : 'SQLite file'})`,
      ceiling: store === 'redis' ? `BullMQ ${fmt(m((x) => x.bullmqBytesPerJob))} bytes per delayed job` : '—',
      ratio: store === 'redis' ? ratio(m((x) => x.bytesPerTask) / m((x) => x.bullmqBytesPerJob)) : '—',
      target: store === 'redis' ? '≤ 1,600' : '≤ 1,200',
      verdict: verdict(m((x) => x.bytesPerTask) <= (store === 'redis' ? 1_600 : 1_200)),
      notes: [],
    },
    {
      scenario: 'scale subscribe',
      store,
      figure: `${fmt(m((x) => x.rps))} req/s · p99 ${ms(m((x) => x.p99))} with ${fmt(count)} pending`,
      ceiling: `empty store ${fmt(m((x) => x.emptyRps))} req/s`,
      ratio: ratio(r),
      target: store === 'sqlite' ? '≥ 0.80' : '—',
      verdict: store === 'sqlite' ? verdict(r >= 0.8 && errors === 0) : 'info',
      notes: [],
    },
  ];
  return { runs, rows };
}
