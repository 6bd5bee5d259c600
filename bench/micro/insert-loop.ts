// A subscribe's write alone, without HTTP: 30,000 tasks (the bench's ~1.4 KB sealed request) inserted
// through the store's insertTask, N at a time, as the event loop's turns bring them under load (about
// 25 a turn at 50 connections on SQLite, 11 on Redis). On SQLite (a fresh file) the write batcher
// commits N per transaction; on Redis (--redis URL, keys under a prefix of this process) the N go in
// one script call, and redis-server's own CPU per task is printed too (INFO cpu, main thread).
// Prints wall and CPU microseconds per task (system time apart) for each batch size; with --heap,
// also the bytes this process allocated per task (V8's sampling heap profiler, garbage included)
// and where. Run:
// npx tsx bench/micro/insert-loop.ts [--tasks 30000] [--batches 1,10,25,100] [--redis URL] [--heap]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { HeapSampling } from '../lib/heap-sampling.js';
import { redisMainCpuMs } from '../lib/redis-cpu.js';
import { newId } from '../../src/core/ids.js';
import { DEFAULT_CONFIG } from '../../src/core/subscription.js';
import { createTask } from '../../src/core/task-machine.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { TaskStore } from '../../src/store/task-store.js';

const arg = (name: string, fallback: string): string =>
  process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1]! : fallback;
const tasks = Number(arg('--tasks', '30000'));
const batches = arg('--batches', '1,10,25,100').split(',').map(Number);
const redisUrl = process.argv.includes('--redis') ? arg('--redis', '') : undefined;
const heap = process.argv.includes('--heap');
const SEALED = Buffer.alloc(1_000, 2); // about the bench's webhook, sealed

const dir = redisUrl ? undefined : mkdtempSync(join(tmpdir(), 'kuueri-insert-loop-'));
const store: TaskStore = redisUrl
  ? await RedisStore.connect({ url: redisUrl, retentionSeconds: 3600, prefix: `insert-loop${process.pid}:` })
  : new SqliteStore({ path: join(dir!, 'tasks.db') });
const info = redisUrl ? new Redis(redisUrl) : undefined;

async function insertAll(projectId: string, batch: number): Promise<void> {
  for (let done = 0; done < tasks; done += batch) {
    const now = Date.now();
    await Promise.all(
      Array.from({ length: Math.min(batch, tasks - done) }, () => {
        const task = createTask(
          { id: newId(now), projectId, config: { ...DEFAULT_CONFIG, executionDelay: 3_600_000 }, request: SEALED },
          now,
        );
        return store.insertTask(task, [], 1e9);
      }),
    );
  }
}

try {
  const projectId = newId(Date.now());
  await store.insertProject({
    id: projectId,
    email: `${projectId.toLowerCase()}@loop.test`,
    tokenHash: Buffer.alloc(32),
    createdAt: 1,
    as: 'DEV',
  });
  for (const batch of batches) {
    const sampling = heap ? await HeapSampling.start() : undefined;
    const redisBefore = info ? await redisMainCpuMs(info) : 0;
    const wall = performance.now();
    const cpu = process.cpuUsage();
    await insertAll(projectId, batch);
    const used = process.cpuUsage(cpu);
    const wallUs = (performance.now() - wall) * 1000;
    const redisUs = info ? ((await redisMainCpuMs(info)) - redisBefore) * 1000 : 0;
    const perTask = (us: number): string => (us / tasks).toFixed(1);
    console.log(
      `${batch} per ${redisUrl ? 'script call' : 'commit'}: ${perTask(wallUs)} µs per task wall, ` +
        `${perTask(used.user + used.system)} µs CPU (system ${perTask(used.system)})` +
        (redisUrl ? `, redis-server ${perTask(redisUs)} µs` : ''),
    );
    if (sampling) console.log(await sampling.stop(tasks, 'task'));
  }
} finally {
  await store.close();
  info?.disconnect();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
