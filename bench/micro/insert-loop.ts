// A subscribe's write alone, without HTTP: 30,000 tasks (the bench's ~1.4 KB sealed request) inserted
// through SqliteStore.insertTask on a fresh file, N at a time, so the write batcher commits N per
// transaction, as the event loop's turns bring them under load (about 25 at 50 connections).
// Prints wall and CPU microseconds per task (system time apart) for each batch size. Run:
// npx tsx bench/micro/insert-loop.ts [--tasks 30000] [--batches 1,10,25,100]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '../../src/core/ids.js';
import { DEFAULT_CONFIG } from '../../src/core/subscription.js';
import { createTask } from '../../src/core/task-machine.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const arg = (name: string, fallback: string): string => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1]! : fallback);
const tasks = Number(arg('--tasks', '30000'));
const batches = arg('--batches', '1,10,25,100').split(',').map(Number);
const SEALED = 'x'.repeat(1_391); // the bench's webhook, sealed

const dir = mkdtempSync(join(tmpdir(), 'kuueri-insert-loop-'));
const store = new SqliteStore({ path: join(dir, 'tasks.db') });
try {
  const projectId = newId(Date.now());
  await store.insertProject({ id: projectId, email: `${projectId.toLowerCase()}@loop.test`, tokenHash: Buffer.alloc(32), createdAt: 1, as: 'DEV' });
  for (const batch of batches) {
    const wall = performance.now();
    const cpu = process.cpuUsage();
    for (let done = 0; done < tasks; done += batch) {
      const now = Date.now();
      await Promise.all(
        Array.from({ length: Math.min(batch, tasks - done) }, () => {
          const { task, entries } = createTask({ id: newId(now), projectId, config: DEFAULT_CONFIG, firstExecAt: now + 3_600_000, sealedRequest: SEALED }, now);
          return store.insertTask(task, entries, 1e9);
        }),
      );
    }
    const used = process.cpuUsage(cpu);
    const perTask = (us: number): string => (us / tasks).toFixed(1);
    console.log(
      `${batch} per commit: ${perTask((performance.now() - wall) * 1000)} µs per task wall, ` +
        `${perTask(used.user + used.system)} µs CPU (system ${perTask(used.system)})`,
    );
  }
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
