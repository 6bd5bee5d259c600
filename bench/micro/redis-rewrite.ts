// What Redis's persistence costs for a schedule of pending tasks, with and without `rdbcompression`:
// fills a redis-server with N tasks through bench/fill-store.ts (the bench's ~1 KB webhook, sealed
// with the real cipher and written by RedisStore, so the layout is the server's), then runs
// BGREWRITEAOF and BGSAVE with the setting on and off in turn. Prints, per setting, the forked
// child's CPU (redis-server's reaped children, /proc/<pid>/stat), the wall time until Redis reports
// it done, and the size of what it wrote. The redis-server must run on this machine, and is emptied
// (FLUSHALL) first:
//   redis-server --port 6399 --save '' --appendonly yes --hash-max-listpack-value 4096 --dir /tmp/r6399
//   npx tsx bench/micro/redis-rewrite.ts --redis redis://127.0.0.1:6399 [--tasks 40000] [--rounds 3]
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { childrenCpuSecondsOf, sleep } from '../lib/procs.js';
import { median } from '../lib/stats.js';

const arg = (name: string): string | undefined => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const url = arg('--redis');
if (!url) throw new Error('--redis URL of a throwaway redis-server on this machine is required');
const N = Number(arg('--tasks') ?? 40_000);
const rounds = Number(arg('--rounds') ?? 3);

const admin = new Redis(url);
const info = async (section: string, field: string): Promise<string> =>
  new RegExp(`${field}:(\\S+)`).exec(await admin.info(section))?.[1] ?? '';
const pid = Number(await info('server', 'process_id'));
/** CPU of redis-server's children that have exited and been reaped (the forked writers), in ms. */
const childrenCpuMs = (): number => Math.round(childrenCpuSecondsOf(pid) * 1000);

// The schedule is written by the scale scenario's filler: the bench's subscribe body, resolved,
// sealed and inserted by the server's own code.
await admin.flushall();
execFileSync(
  process.execPath,
  [
    '--import',
    'tsx',
    fileURLToPath(new URL('../fill-store.ts', import.meta.url)),
    '--db',
    url,
    '--count',
    String(N),
    '--key',
    '7'.repeat(64),
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
const dir = (await admin.config('GET', 'dir'))[1]!;
const dbfilename = (await admin.config('GET', 'dbfilename'))[1]!;

type Job = 'rewrite' | 'save';
async function measure(job: Job): Promise<{ cpuMs: number; wallMs: number; bytes: number }> {
  const busy = async (): Promise<boolean> =>
    (await info('persistence', 'aof_rewrite_in_progress')) === '1' ||
    (await info('persistence', 'aof_rewrite_scheduled')) === '1' ||
    (await info('persistence', 'rdb_bgsave_in_progress')) === '1';
  while (await busy()) await sleep(20);
  await sleep(200); // the last child reaped
  const cpu0 = childrenCpuMs();
  const t0 = performance.now();
  if (job === 'rewrite') await admin.bgrewriteaof();
  else await admin.bgsave();
  await sleep(20);
  while (await busy()) await sleep(10);
  const wallMs = performance.now() - t0;
  await sleep(200);
  const bytes = job === 'rewrite' ? Number(await info('persistence', 'aof_base_size')) : statSync(join(dir, dbfilename)).size;
  return { cpuMs: childrenCpuMs() - cpu0, wallMs, bytes };
}

const results: Record<string, { cpuMs: number[]; wallMs: number[]; bytes: number[] }> = {};
for (let r = 0; r < rounds; r++) {
  for (const setting of ['yes', 'no']) {
    await admin.config('SET', 'rdbcompression', setting);
    for (const job of ['rewrite', 'save'] as const) {
      const m = await measure(job);
      const key = `${job} rdbcompression ${setting}`;
      results[key] ??= { cpuMs: [], wallMs: [], bytes: [] };
      results[key].cpuMs.push(m.cpuMs);
      results[key].wallMs.push(m.wallMs);
      results[key].bytes.push(m.bytes);
    }
  }
}
await admin.config('SET', 'rdbcompression', 'yes');
console.log(
  `${N} pending tasks, ${(Number(await info('memory', 'used_memory')) / 1e6).toFixed(0)} MB in Redis; medians of ${rounds} rounds (each value in brackets)`,
);
for (const [key, v] of Object.entries(results)) {
  console.log(
    `${key.padEnd(26)} child CPU ${String(median(v.cpuMs)).padStart(5)} ms [${v.cpuMs.join(', ')}]` +
      `  wall ${median(v.wallMs).toFixed(0).padStart(5)} ms  wrote ${(median(v.bytes) / 1e6).toFixed(1)} MB`,
  );
}
admin.disconnect();
