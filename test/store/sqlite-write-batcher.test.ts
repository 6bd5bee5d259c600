import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, beforeEach, test } from 'node:test';
import Database from 'better-sqlite3';
import { WriteBatcher } from '../../src/store/sqlite/write-batcher.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

/**
 * The group commit on a real SQLite file: the writes of one turn share one transaction; a write
 * that throws changes nothing and fails alone, whatever the others did before and after it.
 */
const dir = makeTempDir('batcher');
let db: Database.Database;
let batcher: WriteBatcher;
let file = 0;

beforeEach(() => {
  db?.close();
  db = new Database(join(dir, `batch-${++file}.db`));
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
  batcher = new WriteBatcher(db, (error) => error);
});

after(() => {
  db?.close();
  removeDir(dir);
});

const insert = (k: string, v: number): void => void db.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run(k, v);
const rows = (): Record<string, number> =>
  Object.fromEntries(
    db
      .prepare<[], { k: string; v: number }>('SELECT k, v FROM t ORDER BY k')
      .all()
      .map((r) => [r.k, r.v]),
  );

test('the writes of one turn commit together and each caller gets its own value', async () => {
  let commits = 0;
  db.function('count_commit', () => ++commits);
  db.exec(
    'CREATE TABLE commits (n INTEGER); CREATE TRIGGER on_insert AFTER INSERT ON t BEGIN INSERT INTO commits VALUES (count_commit()); END',
  );
  const values = await Promise.all([1, 2, 3].map((v) => batcher.run(() => (insert(`k${v}`, v), v * 10))));
  assert.deepEqual(values, [10, 20, 30]);
  assert.deepEqual(rows(), { k1: 1, k2: 2, k3: 3 });
  assert.equal(commits, 3, 'each write ran once (no second pass without a failure)');
});

test('a write that throws after changing rows is undone alone; the writes before and after it commit', async () => {
  insert('taken', 0);
  const results = await Promise.allSettled([
    batcher.run(() => insert('a', 1)),
    // Changes a row, then fails on a constraint: its first change must not survive.
    batcher.run(() => {
      insert('b', 2);
      insert('taken', 3);
    }),
    batcher.run(() => insert('c', 4)),
  ]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  const failure = results[1] as PromiseRejectedResult;
  assert.equal((failure.reason as { code?: string }).code, 'SQLITE_CONSTRAINT_PRIMARYKEY', 'the failing write gets its own error');
  assert.deepEqual(rows(), { a: 1, c: 4, taken: 0 });
});

test('an error thrown by the code of a write (not SQLite) also fails that write alone', async () => {
  const results = await Promise.allSettled([
    batcher.run(() => insert('x', 1)),
    batcher.run(() => {
      insert('y', 2);
      throw new Error('refused by the caller');
    }),
  ]);
  const [first, second] = results;
  assert.equal(first.status, 'fulfilled');
  assert.equal(second.status, 'rejected');
  assert.equal((second.reason as Error).message, 'refused by the caller');
  assert.deepEqual(rows(), { x: 1 });
});

test('writes of the next turn go in the next transaction, after a failed one', async () => {
  await assert.rejects(batcher.run(() => insert('same', 1)).then(() => batcher.run(() => insert('same', 2))));
  await batcher.run(() => insert('later', 3));
  assert.deepEqual(rows(), { later: 3, same: 1 });
});
