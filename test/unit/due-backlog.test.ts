/*
 * The due backlog gauge's source (dispatch/due-backlog.ts), on a real SQLite store: a read answers
 * at once with the last count and starts a new one only when that count is older than its maximum
 * age, one at a time; a count the store cannot answer leaves the last one in place. Store calls are
 * counted through the store's timed face (store/timed-store.ts), the one the server uses.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestClock } from '../../src/core/clock.js';
import { DueBacklog } from '../../src/dispatch/due-backlog.js';
import { silentLogger } from '../../src/logger.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { TaskStore } from '../../src/store/task-store.js';
import { timeStore } from '../../src/store/timed-store.js';
import { T0, insertAt, newProject } from '../store/fixtures.js';
import { waitFor } from '../helpers/wait.js';

describe('DueBacklog', () => {
  const clock = new TestClock(T0 + 10_000);
  let raw: SqliteStore;
  let store: TaskStore;
  let counts = 0;
  let projectId: string;

  before(async () => {
    raw = new SqliteStore({ path: ':memory:' });
    store = timeStore(raw, (operation) => (operation === 'countDue' ? () => counts++ : () => undefined));
    const project = newProject();
    await store.insertProject(project);
    projectId = project.id;
    for (const offset of [1_000, 2_000, 3_000, 20_000]) await insertAt(store, projectId, T0 + offset);
  });
  after(async () => {
    await raw.close().catch(() => undefined); // the last test closed it
  });

  test('the first read answers 0 and starts a count; later reads answer it, and recount only once it is too old', async () => {
    const backlog = new DueBacklog(store, clock, silentLogger, 60 * 60_000);
    assert.equal(backlog.read(), 0);
    assert.equal(await waitFor('the first count', () => backlog.read() === 3), true);
    await insertAt(store, projectId, T0 + 4_000);
    for (let i = 0; i < 50; i++) assert.equal(backlog.read(), 3, 'the count is fresh: no new one');
    assert.equal(counts, 1, 'the store was asked once');
  });

  test('at most one count at a time, however often it is read', async () => {
    counts = 0;
    const backlog = new DueBacklog(store, clock, silentLogger, 0);
    for (let i = 0; i < 50; i++) backlog.read();
    assert.equal(counts, 0, 'none has ended yet');
    await waitFor('the count to end', () => counts === 1);
    assert.equal(await waitFor('a count that sees the four due tasks', () => backlog.read() === 4), true);
  });

  test('a count the store cannot answer keeps the last one', async () => {
    const backlog = new DueBacklog(store, clock, silentLogger, 0);
    await waitFor('a count', () => backlog.read() === 4);
    await raw.close();
    const before = counts;
    backlog.read();
    await waitFor('the failed count to end', () => counts > before);
    assert.equal(backlog.read(), 4);
  });
});
