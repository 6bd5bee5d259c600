// The store's own cost of dispatching, without HTTP: 20,000 due tasks claimed 128 at a time
// (--batch N) and their outcomes recorded, on a fresh SQLite file (or Redis with --redis URL). Prints tasks/s and
// the microseconds per task of claims and of recording; on Redis also redis-server's CPU per task
// (claims, recording, and by command) and its memory per pending task.
// With --heap, also the bytes this process allocated per task while claiming and recording (garbage
// included) and where. Run:
// npx tsx bench/micro/store-loop.ts [--batch 128] [--sealed 1000 (characters of the sealed request)] [--redis URL] [--heap]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { HeapSampling } from '../lib/heap-sampling.js';
import { redisMainCpuMs } from '../lib/redis-cpu.js';
import { newId } from '../../src/core/ids.js';
import { DEFAULT_CONFIG } from '../../src/core/subscription.js';
import { applyOutcome, createTask } from '../../src/core/task-machine.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { TaskStore } from '../../src/store/task-store.js';

const redisUrl = process.argv.includes('--redis') ? process.argv[process.argv.indexOf('--redis') + 1] : undefined;
const arg = (name: string, fallback: number): number =>
  process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback;
const N = 20_000;
const BATCH = arg('--batch', 128);
const SEALED = arg('--sealed', 1_000);
// A folder for the SQLite file only: on Redis there is nothing to keep on disk.
const dir = redisUrl ? undefined : mkdtempSync(join(tmpdir(), 'kuueri-store-loop-'));
const store: TaskStore = redisUrl
  ? await RedisStore.connect({ url: redisUrl, retentionSeconds: 3600, prefix: `loop${process.pid}:` })
  : new SqliteStore({ path: join(dir!, 'tasks.db') });
const projectId = newId(Date.now());
await store.insertProject({
  id: projectId,
  email: `${projectId.toLowerCase()}@loop.test`,
  tokenHash: Buffer.alloc(32),
  createdAt: 1,
  as: 'DEV',
});
// On Redis, also redis-server's own CPU per phase (INFO cpu, main thread), since Redis is shared by every node.
const infoClient = redisUrl ? new Redis(redisUrl) : undefined;
const redisCpuMs = async (): Promise<number> => (infoClient ? redisMainCpuMs(infoClient) : 0);
const usedMemory = async (): Promise<number> => Number(/used_memory:(\d+)/.exec((await infoClient?.info('memory')) ?? '')?.[1] ?? 0);
const memoryBefore = await usedMemory();
const due = Date.now() + 60_000;
await Promise.all(
  Array.from({ length: N }, () => {
    const task = createTask(
      { id: newId(due), projectId, config: { ...DEFAULT_CONFIG, executionAt: due }, request: Buffer.alloc(SEALED, 2) },
      due - 60_000,
    );
    return store.insertTask(task, [], 1e9);
  }),
);
const bytesPerTask = ((await usedMemory()) - memoryBefore) / N;

await infoClient?.config('RESETSTAT');
let claimMs = 0;
let recordMs = 0;
let claimRedisMs = 0;
let recordRedisMs = 0;
let done = 0;
const sampling = process.argv.includes('--heap') ? await HeapSampling.start() : undefined;
const started = performance.now();
while (done < N) {
  let t = performance.now();
  const r0 = await redisCpuMs();
  const claimed = await store.claimDue(due, BATCH, 15_000);
  claimMs += performance.now() - t;
  const r1 = await redisCpuMs();
  claimRedisMs += r1 - r0;
  if (claimed.length === 0) break;
  t = performance.now();
  await Promise.all(
    claimed.map((task) => {
      const next = applyOutcome(task, { ok: true, statusCode: 200 }, due + 5);
      return store.replaceTask(task, next.task, next.entries);
    }),
  );
  recordMs += performance.now() - t;
  recordRedisMs += (await redisCpuMs()) - r1;
  done += claimed.length;
}
const ms = performance.now() - started;
const heapReport = await sampling?.stop(done, 'task');
console.log(
  `${redisUrl ? 'redis' : 'sqlite'}: ${done} tasks in ${ms.toFixed(0)} ms = ${Math.round((done / ms) * 1000)} tasks/s; ` +
    `claim ${((claimMs * 1000) / done).toFixed(1)} µs/task, record ${((recordMs * 1000) / done).toFixed(1)} µs/task` +
    (infoClient
      ? `; redis-server memory ${bytesPerTask.toFixed(0)} bytes per pending task; CPU: claim ${((claimRedisMs * 1000) / done).toFixed(1)} µs/task, record ${((recordRedisMs * 1000) / done).toFixed(1)} µs/task`
      : ''),
);
if (heapReport) console.log(heapReport);
if (infoClient) {
  // Where redis-server's time went, by command (scripts' own commands included): µs per task.
  const stats = [...(await infoClient.info('commandstats')).matchAll(/cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g)]
    .map(([, name, calls, usec]) => ({ name: name!, calls: Number(calls), usec: Number(usec) }))
    .filter((s) => s.name !== 'info' && !s.name.startsWith('config'))
    .sort((a, b) => b.usec - a.usec);
  console.log(
    stats
      .map(
        (s) =>
          `  ${s.name.padEnd(16)} ${(s.calls / done).toFixed(2).padStart(6)} calls/task ${(s.usec / done).toFixed(1).padStart(6)} µs/task`,
      )
      .join('\n'),
  );
  infoClient.disconnect();
}
await store.close();
if (dir) rmSync(dir, { recursive: true, force: true });
