// The store's own cost of dispatching, without HTTP: 20,000 due tasks claimed 128 at a time
// (--batch N) and their outcomes recorded, on a fresh SQLite file (or Redis with --redis URL). Prints tasks/s and
// the microseconds per task of claims and of recording. Run: npx tsx bench/micro/store-loop.ts
// [--batch 128] [--sealed 1000 (characters of the sealed request)]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '../../src/core/ids.js';
import { DEFAULT_CONFIG } from '../../src/core/subscription.js';
import { applyOutcome, createTask } from '../../src/core/task-machine.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { TaskStore } from '../../src/store/task-store.js';

const redisUrl = process.argv.includes('--redis') ? process.argv[process.argv.indexOf('--redis') + 1] : undefined;
const arg = (name: string, fallback: number): number => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback);
const N = 20_000;
const BATCH = arg('--batch', 128);
const SEALED = arg('--sealed', 1_000);
const dir = mkdtempSync(join(tmpdir(), 'kuueri-store-loop-'));
const store: TaskStore = redisUrl
  ? await RedisStore.connect({ url: redisUrl, retentionSeconds: 3600, prefix: `loop${process.pid}:` })
  : new SqliteStore({ path: join(dir, 'tasks.db') });
const projectId = newId(Date.now());
await store.insertProject({ id: projectId, email: `${projectId.toLowerCase()}@loop.test`, tokenHash: Buffer.alloc(32), createdAt: 1, as: 'DEV' });
const due = Date.now() + 60_000;
await Promise.all(
  Array.from({ length: N }, () => {
    const { task, entries } = createTask({ id: newId(due), projectId, config: DEFAULT_CONFIG, firstExecAt: due, sealedRequest: 'x'.repeat(SEALED) }, due - 60_000);
    return store.insertTask(task, entries, 1e9);
  }),
);

let claimMs = 0;
let recordMs = 0;
let done = 0;
const started = performance.now();
while (done < N) {
  let t = performance.now();
  const claimed = await store.claimDue(due, BATCH, 15_000);
  claimMs += performance.now() - t;
  if (claimed.length === 0) break;
  t = performance.now();
  await Promise.all(claimed.map((task) => {
    const next = applyOutcome(task, { ok: true, statusCode: 200 }, due + 5);
    return store.replaceTask(task, next.task, next.entries);
  }));
  recordMs += performance.now() - t;
  done += claimed.length;
}
const ms = performance.now() - started;
console.log(
  `${redisUrl ? 'redis' : 'sqlite'}: ${done} tasks in ${ms.toFixed(0)} ms = ${Math.round((done / ms) * 1000)} tasks/s; ` +
    `claim ${((claimMs * 1000) / done).toFixed(1)} µs/task, record ${((recordMs * 1000) / done).toFixed(1)} µs/task`,
);
await store.close();
rmSync(dir, { recursive: true, force: true });
