// Two builds of the server at once: each on a SQLite file of its own, each given the same burst of
// tasks due at the same instant, both delivering to one target process. Per round, the CPU of each
// server from the due time to its last outcome recorded, per delivery, and A's over B's. The two
// share every minute of the machine's drift, which between runs one after the other (the dispatch
// bench) is as large as what an A/B of a few percent looks for. Rounds swap the two's ports and
// the order they are given their tasks in.
// Run (each DIR a checkout with `npm run build` done, e.g. a `git worktree`):
// npx tsx bench/micro/side-by-side.ts DIR_A DIR_B [--rounds 8] [--tasks 20000] [--concurrency 128]
// What signing and the attempt log add (issue 23's budget), from the repository's root:
//   for w in with without; do git worktree add --detach /tmp/$w HEAD && ln -s "$PWD/node_modules" /tmp/$w/; done
//   git -C /tmp/without apply "$PWD/bench/micro/without-signing-and-log.patch"
//   (cd /tmp/with && npm run build) && (cd /tmp/without && npm run build)
//   npx tsx bench/micro/side-by-side.ts /tmp/with /tmp/without
// The patch reads no signing keys and adds no webhook-* headers, and makes no attempt record and
// keeps no excerpt; everything else a delivery does stays.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { subscribeBody } from '../lib/bodies.js';
import { cpuSecondsOf, sleep } from '../lib/procs.js';
import { median } from '../lib/stats.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number): number => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const [dirA, dirB] = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--')).map((d) => resolve(d));
if (!dirA || !dirB) throw new Error('usage: side-by-side.ts DIR_A DIR_B [--rounds N] [--tasks N] [--concurrency N]');
const rounds = arg('--rounds', 8);
const tasks = arg('--tasks', 20_000);
const concurrency = arg('--concurrency', 128);
const WARM_UP = 2_000;
const BATCH = 1_000;

/** The target, in this process: it answers `ok` and counts the requests under each first path segment. */
async function startTarget(): Promise<{ server: Server; url: string; counts: Map<string, number> }> {
  const counts = new Map<string, number>();
  const server = createServer((req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      const side = (req.url ?? '').split('/')[1] ?? '';
      counts.set(side, (counts.get(side) ?? 0) + 1);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end('ok');
    });
  });
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, counts };
}

interface Side {
  name: string;
  proc: ChildProcess;
  url: string;
  dir: string;
  headers: Record<string, string>;
}

async function startSide(name: string, checkout: string, port: number): Promise<Side> {
  const dir = mkdtempSync(join(tmpdir(), `kuueri-sbs-${name}-`));
  const out = openSync(join(dir, 'server.log'), 'w');
  const proc = spawn(process.execPath, [join(checkout, 'dist/main.js')], {
    cwd: checkout,
    stdio: ['ignore', out, out],
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      HOST: '127.0.0.1',
      TASKS_DB: `sqlite:${join(dir, 'tasks.db')}`,
      TASKS_CRYPTO_KEY: 'c2lkZS1ieS1zaWRlLWJlbmNoLWtleS0zMi1ieXRlcyE=',
      TASKS_ALLOW_TARGETS: '127.0.0.1',
      TASKS_THROTTLE_LIMIT: '1000000000',
      TASKS_QUEUE_LIMIT: '100000000',
      TASKS_CONCURRENCY: String(concurrency),
      TASKS_LOG_LEVEL: 'info',
    },
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      const res = await request(`${url}/healthz`);
      await res.body.dump();
      if (res.statusCode === 200) break;
    } catch {
      // not listening yet
    }
    if (i > 600 || proc.exitCode !== null) throw new Error(`${name} did not start (see ${dir}/server.log)`);
    await sleep(100);
  }
  const res = await request(`${url}/v1beta/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: `${name}-${Date.now()}@side-by-side.test` }),
  });
  const creds = (await res.body.json()) as { id: string; token: string };
  const headers = { authorization: `Bearer ${creds.token}`, 'x-kuueri-tasks-project': creds.id, 'content-type': 'application/json' };
  return { name, proc, url, dir, headers };
}

async function subscribe(side: Side, target: string, n: number, executionAt: number): Promise<void> {
  for (let done = 0; done < n; done += BATCH) {
    const count = Math.min(BATCH, n - done);
    const body = `[${Array.from({ length: count }, () => subscribeBody({ target: `${target}/${side.name}`, executionAt })).join(',')}]`;
    const res = await request(`${side.url}/v1beta/subscribe/batch`, { method: 'POST', headers: side.headers, body });
    const text = await res.body.text();
    if (res.statusCode >= 300 || text.includes('"error"'))
      throw new Error(`${side.name} batch answered ${res.statusCode}: ${text.slice(0, 300)}`);
  }
}

async function inQueue(side: Side): Promise<number> {
  const res = await request(`${side.url}/v1beta/info`, { headers: side.headers });
  return ((await res.body.json()) as { taskInQueue: number }).taskInQueue;
}

async function stopSide(side: Side): Promise<void> {
  side.proc.kill('SIGTERM');
  if (side.proc.exitCode === null) await new Promise((r) => side.proc.once('exit', r));
  rmSync(side.dir, { recursive: true, force: true });
}

interface RoundResult {
  /** µs of server CPU per delivery, due time to the last outcome recorded. */
  a: number;
  b: number;
}

async function round(r: number, target: { url: string; counts: Map<string, number> }): Promise<RoundResult> {
  const swap = r % 2 === 1;
  const a = await startSide('a', dirA!, swap ? 18182 : 18181);
  const b = await startSide('b', dirB!, swap ? 18181 : 18182);
  const sides = swap ? [b, a] : [a, b];
  try {
    // A warm-up burst each: compiled code and SQLite's caches, as a server that has run a while has them.
    for (const side of sides) await subscribe(side, target.url, WARM_UP, Date.now() + 1_000);
    for (const side of sides) while ((await inQueue(side)) > 0) await sleep(100);
    target.counts.clear();
    execFileSync('sync');
    await sleep(1_000);
    const started = Date.now();
    for (const side of sides) await subscribe(side, target.url, tasks, started + 20_000);
    // Every subscribe above is in; the burst is moved to its due time by waiting for it. The
    // tasks' executionAt is far enough out for both sides' subscribing; wait for it.
    const due = started + 20_000;
    const lead = due - Date.now();
    if (lead < 2_000) throw new Error('subscribing took too long for the due time');
    await sleep(lead - 500);
    const cpu0 = { a: cpuSecondsOf(a.proc.pid!), b: cpuSecondsOf(b.proc.pid!) };
    const cpu1: Partial<Record<'a' | 'b', number>> = {};
    const deadline = Date.now() + 300_000;
    while ((cpu1.a === undefined || cpu1.b === undefined) && Date.now() < deadline) {
      await sleep(50);
      for (const side of [a, b]) {
        const key = side.name as 'a' | 'b';
        if (cpu1[key] === undefined && (target.counts.get(key) ?? 0) >= tasks && (await inQueue(side)) === 0)
          cpu1[key] = cpuSecondsOf(side.proc.pid!);
      }
    }
    if (cpu1.a === undefined || cpu1.b === undefined) throw new Error('a side did not deliver every task in time');
    return { a: ((cpu1.a - cpu0.a) / tasks) * 1e6, b: ((cpu1.b - cpu0.b) / tasks) * 1e6 };
  } finally {
    await Promise.all([stopSide(a), stopSide(b)]);
  }
}

const target = await startTarget();
const results: RoundResult[] = [];
const percent = (x: number): string => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(1)}%`;
try {
  for (let r = 0; r < rounds; r++) {
    const result = await round(r, target);
    results.push(result);
    console.log(
      `round ${r + 1}: a ${result.a.toFixed(1)} µs, b ${result.b.toFixed(1)} µs of server CPU per delivery: a ${percent(result.a / result.b)}`,
    );
  }
} finally {
  target.server.close();
}
const ratios = results.map((x) => x.a / x.b);
const [a, b] = [median(results.map((x) => x.a)), median(results.map((x) => x.b))];
console.log(
  `${results.length} rounds of ${tasks} tasks each: a ${a.toFixed(1)} µs, b ${b.toFixed(1)} µs (medians), a ${percent(a / b)}; ` +
    `rounds' median a ${percent(median(ratios))} (${ratios.map(percent).join(' ')})`,
);
