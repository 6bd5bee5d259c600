import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { ATTEMPT_LOG } from '../../src/core/limits.js';
import { TestClock } from '../../src/core/clock.js';
import { TIMELINE } from '../../src/core/timeline.js';
import { RetentionSweeper } from '../../src/dispatch/retention.js';
import { silentLogger } from '../../src/logger.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { StoredTask } from '../../src/store/task-store.js';
import { must } from '../helpers/must.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { T0, insertInState, newProject, numbered, step, withoutVersion } from './fixtures.js';

/**
 * The retention sweep on a real SQLite file: it deletes in small steps with a turn of the event loop
 * between them, so reads (a request, a delivery) are answered while a backlog is deleted. Time is a
 * test clock: the cut-off is the clock's now minus the retention period.
 */
describe('retention sweep (SQLite)', () => {
  const RETENTION_MS = 3_600_000;
  let dir: string;
  let store: SqliteStore;

  beforeEach(() => {
    dir = makeTempDir('retention');
    store = new SqliteStore({ path: join(dir, 'tasks.db') });
  });
  afterEach(async () => {
    await store.close();
    removeDir(dir);
  });

  /** `count` tasks finished at T0 + 1..count, each with a timeline as long as the bound allows. */
  async function finishedTasks(projectId: string, count: number): Promise<StoredTask[]> {
    const tasks: StoredTask[] = [];
    for (let i = 1; i <= count; i++) {
      const done = await insertInState(store, projectId, 'COMPLETED', T0 + i);
      tasks.push(await step(store, done, { task: withoutVersion(done), entries: numbered(1, TIMELINE.maxEntries) }));
    }
    return tasks;
  }

  test('a backlog is deleted one small step at a time, and reads are answered between the steps', async () => {
    const project = newProject();
    await store.insertProject(project);
    const total = 12;
    const finished = await finishedTasks(project.id, total);
    const kept = await insertInState(store, project.id, 'COMPLETED', T0 + RETENTION_MS); // finished later: within retention
    const clock = new TestClock(T0 + RETENTION_MS + total + 1);
    // A step has room for one bounded timeline and its task, not two.
    const sweeper = new RetentionSweeper(store, clock, silentLogger, RETENTION_MS, 60_000, TIMELINE.maxEntries + 2);

    // What a reader sees at each turn of the event loop while the sweep runs.
    const seen = new Set<number>();
    let sweeping = true;
    const look = async (): Promise<void> => {
      const left = (await Promise.all(finished.map((t) => store.findTask(project.id, t.id)))).filter((t) => t !== null).length;
      seen.add(left);
      if (sweeping) setImmediate(() => void look());
    };
    setImmediate(() => void look());
    const report = await sweeper.sweep();
    sweeping = false;

    assert.equal(report.deleted, total);
    assert.ok(report.steps >= total, `one task per step at most: ${JSON.stringify(report)}`);
    const between = [...seen].filter((n) => n > 0 && n < total);
    assert.ok(between.length >= total / 2, `reads answered between steps saw ${[...seen].sort((a, b) => b - a).join(', ')} tasks left`);
    for (const t of finished) assert.equal(await store.findTask(project.id, t.id), null);
    assert.deepEqual(await store.findTask(project.id, kept.id), kept, 'a task within the retention period is kept');
  });

  test('a task’s attempt records count in a step’s rows, and are deleted with it', async () => {
    const project = newProject();
    await store.insertProject(project);
    const total = 4;
    for (let i = 1; i <= total; i++) {
      let task = await insertInState(store, project.id, 'COMPLETED', T0 + i);
      for (let n = 1; n <= ATTEMPT_LOG.maxEntries; n++) {
        const attempt = { number: n, startedAt: T0, durationMs: 1, statusCode: 503, errorClass: null, excerpt: Buffer.from('busy') };
        task = await step(store, task, { task: { ...withoutVersion(task), attempts: n }, entries: [], attempt });
      }
    }
    const clock = new TestClock(T0 + RETENTION_MS + total + 1);
    // A step has room for one whole attempt log with its task and timeline, not two.
    const sweeper = new RetentionSweeper(store, clock, silentLogger, RETENTION_MS, 60_000, ATTEMPT_LOG.maxEntries + 10);
    const report = await sweeper.sweep();
    assert.equal(report.deleted, total);
    assert.ok(report.steps >= total, `one task per step at most: ${JSON.stringify(report)}`);
    const raw = new Database(join(dir, 'tasks.db'), { readonly: true });
    try {
      assert.deepEqual(raw.prepare('SELECT COUNT(*) AS n FROM attempts').get(), { n: 0 });
    } finally {
      raw.close();
    }
  });

  test('the cut-off is the clock’s now minus the retention period; a second sweep finds nothing', async () => {
    const project = newProject();
    await store.insertProject(project);
    const [early, late] = await finishedTasks(project.id, 2);
    const clock = new TestClock(must(late, 'late').endAt + RETENTION_MS); // late finished exactly at the cut-off
    const sweeper = new RetentionSweeper(store, clock, silentLogger, RETENTION_MS);
    assert.equal((await sweeper.sweep()).deleted, 1);
    assert.equal(await store.findTask(project.id, must(early, 'early').id), null);
    assert.notEqual(await store.findTask(project.id, must(late, 'late').id), null);
    clock.advance(1);
    assert.deepEqual(await sweeper.sweep(), { deleted: 1, steps: 1 });
    assert.deepEqual(await sweeper.sweep(), { deleted: 0, steps: 1 });
  });
});
