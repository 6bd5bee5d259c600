import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { newId } from '../../src/core/ids.js';
import { createRequestCipher } from '../../src/core/sealed-request.js';
import { DEFAULT_CONFIG } from '../../src/core/subscription.js';
import type { HttpRequestSpec } from '../../src/core/task.js';
import { createTask, unsubscribeTask } from '../../src/core/task-machine.js';
import { isAppError } from '../../src/core/errors.js';
import { loadMigrations, migrate } from '../../src/store/sqlite/migrate.js';
import { PAGE_BYTES, SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ACTIVITY_KEEP_MS } from '../../src/store/task-store.js';
import { TestClock } from '../../src/core/clock.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { describeTaskStoreContract } from './conformance.js';
import { describeScheduleContract } from './schedule-contract.js';
import { T0, insertAt, insertInState, leaseOf, newProject, numbered, pause, subscribeAt } from './fixtures.js';
import { TIMELINE, omittedEntry } from '../../src/core/timeline.js';
import { must } from '../helpers/must.js';

/** A store on a SQLite file of its own, removed at cleanup. */
async function fileStore(): Promise<{ store: SqliteStore; cleanup: () => Promise<void> }> {
  const dir = makeTempDir('store');
  const store = new SqliteStore({ path: join(dir, 'tasks.db') });
  return {
    store,
    cleanup: async () => {
      await store.close();
      removeDir(dir);
    },
  };
}

describeTaskStoreContract('sqlite (file)', fileStore);

describeScheduleContract('sqlite', fileStore);

describeTaskStoreContract('sqlite (:memory:)', async () => {
  const store = new SqliteStore({ path: ':memory:' });
  return { store, cleanup: () => store.close() };
});

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ADAPTER = fileURLToPath(new URL('../../src/store/sqlite/sqlite-store.ts', import.meta.url));
const LATEST_SCHEMA = must(loadMigrations().at(-1), 'a migration').version;

/** Node with tsx in another process, running an ES module script that imports the adapter by absolute path. */
function node(script: string, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    env: { ...process.env, ADAPTER, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function collect(child: ChildProcess): { output: () => { stdout: string; stderr: string }; exit: Promise<Exit> } {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<Exit>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { output: () => ({ stdout, stderr }), exit };
}

/** Opens the database in a child process, reads the project's queue count, closes. */
const TRY_OPEN = `
const { SqliteStore } = await import(process.env.ADAPTER);
try {
  const store = new SqliteStore({ path: process.env.DB });
  console.log('opened, count=' + (await store.countActive(process.env.PROJECT ?? '')));
  await store.close();
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 3;
}`;

/** Opens the database in a child process, writes a project, says "ready" and holds the database until killed. */
const HOLD = `
const { SqliteStore } = await import(process.env.ADAPTER);
const store = new SqliteStore({ path: process.env.DB });
await store.insertProject({ id: process.env.PROJECT, email: process.env.PROJECT.toLowerCase() + '@child.example', tokenHash: Buffer.alloc(32, 7), createdAt: 1, as: 'DEV' });
console.log('ready');
setInterval(() => {}, 60_000);`;

describe('SqliteStore specifics', () => {
  let dir: string;
  let path: string;
  const open: SqliteStore[] = [];
  const children: ChildProcess[] = [];

  const openStore = (): SqliteStore => {
    const store = new SqliteStore({ path });
    open.push(store);
    return store;
  };

  beforeEach(() => {
    dir = makeTempDir('sqlite');
    path = join(dir, 'data', 'tasks.db');
  });
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const store of open.splice(0)) await store.close();
    removeDir(dir);
  });

  test('it is the single-node sqlite store', () => {
    const store = openStore();
    assert.equal(store.kind, 'sqlite');
    assert.equal(store.singleNode, true);
  });

  describe('migrations', () => {
    test('a new file gets every migration once; re-opening applies none', async () => {
      await openStore().close();
      const raw = new Database(path);
      try {
        assert.equal(raw.pragma('user_version', { simple: true }), LATEST_SCHEMA);
        const tables = raw.prepare<[], { name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").all();
        assert.deepEqual(
          tables.map((t) => t.name),
          [
            'activity',
            'attempts',
            'breaker_policies',
            'circuits',
            'flow_starts',
            'flows',
            'idempotency_keys',
            'inbox',
            'meta',
            'projects',
            'requests',
            'schedules',
            'task_tags',
            'tasks',
            'timeline',
          ],
        );
        assert.equal(migrate(raw), 0, 'nothing left to apply');
      } finally {
        raw.close();
      }
      await openStore().close(); // would fail on CREATE TABLE if a migration ran twice
      const again = new Database(path, { readonly: true });
      try {
        assert.equal(again.pragma('user_version', { simple: true }), LATEST_SCHEMA);
      } finally {
        again.close();
      }
    });

    test('migrate applies each file to an empty database and answers how many', () => {
      const raw = new Database(':memory:');
      try {
        assert.equal(migrate(raw), loadMigrations().length);
        assert.equal(migrate(raw), 0);
      } finally {
        raw.close();
      }
    });

    test('a database written at schema 2 (request in the tasks row) opens at the latest with its tasks whole', async () => {
      mkdirSync(join(dir, 'data'));
      const raw = new Database(path);
      migrate(
        raw,
        loadMigrations().filter((m) => m.version <= 2),
      );
      raw
        .prepare(
          "INSERT INTO projects (id, email, token_hash, created_at, role, active_tasks) VALUES ('P1', 'p@x.test', x'00', 1, 'DEV', 1)",
        )
        .run();
      raw
        .prepare(
          `INSERT INTO tasks (id, project_id, state, status_code, start_at, exec_at, end_at, currently_retry, currently_repeat,
             retry_count, repeat_count, attempts, paused_left, config, request, lease_token, lease_until, due_at, finished_at, version)
           VALUES ('T1', 'P1', 'RUNNING', 0, 1, 5, 5, 0, 0, 0, 0, 0, 0, ?, ?, NULL, NULL, 5, NULL, 1)`,
        )
        .run(JSON.stringify(DEFAULT_CONFIG), Buffer.from('sealed-at-schema-2').toString('base64url'));
      raw.prepare("INSERT INTO timeline (task_rid, seq, label, description, created_at) VALUES (1, 1, 'Subscribed', 'x', 1)").run();
      raw.close();

      const store = openStore();
      try {
        const task = must(await store.findTask('P1', 'T1'), 'the task');
        assert.deepEqual(task.request, Buffer.from('sealed-at-schema-2'), 'the base64url text became the bytes it encodes');
        assert.equal(task.state, 'RUNNING');
        assert.equal((await store.readTimeline('P1', 'T1'))?.entries.length, 1);
        const [claimed] = await store.claimDue(10, 5, 1_000);
        assert.deepEqual(claimed?.request, Buffer.from('sealed-at-schema-2'), 'a claim carries the request too');
      } finally {
        await store.close();
      }
    });

    test('a timeline stored before 005 is counted, read whole, and cut to its bound at its next entry', async () => {
      const { maxEntries, keepFirst } = TIMELINE;
      // A database as a server at schema 4 left it: no count, and a timeline longer than the bound.
      mkdirSync(join(dir, 'data'));
      const raw = new Database(path);
      migrate(
        raw,
        loadMigrations().filter((m) => m.version <= 4),
      );
      raw
        .prepare(`INSERT INTO projects (id, email, token_hash, created_at, "as", active) VALUES ('P1', 'p@x.test', x'00', 1, 'DEV', 1)`)
        .run();
      const rid = Number(
        raw
          .prepare(
            `INSERT INTO tasks (id, project_id, state, status_code, start_at, exec_at, end_at, retrying, repeating, retry_count,
               repeat_count, attempts, paused_left, config, lease_token, lease_until, due_at, finished_at, version)
             VALUES ('T1', 'P1', 'RUNNING', 0, 1, 60000, 0, 0, 0, 0, 0, 0, 0, ?, NULL, NULL, 60000, NULL, 1)`,
          )
          .run(JSON.stringify(DEFAULT_CONFIG)).lastInsertRowid,
      );
      raw.prepare('INSERT INTO requests (rid, request) VALUES (?, ?)').run(rid, Buffer.of(2, 1, 2, 3));
      const stored = numbered(1, maxEntries + 30);
      const insert = raw.prepare(
        'INSERT INTO timeline (task_rid, seq, label, description, created_at, metadata) VALUES (?, ?, ?, ?, ?, ?)',
      );
      stored.forEach((e, i) => insert.run(rid, i + 1, e.label, e.description, e.createdAt, JSON.stringify(e.metadata)));
      raw.close();
      const project = { id: 'P1' };
      const task = { id: 'T1' };

      const reopened = openStore();
      const length = (): number => {
        const check = new Database(path, { readonly: true });
        try {
          return must(check.prepare<[number], { n: number }>('SELECT timeline_length AS n FROM tasks WHERE rid = ?').get(rid), 'row').n;
        } finally {
          check.close();
        }
      };
      assert.equal(length(), stored.length, 'the migration counted the stored entries');
      const before = must(await reopened.readTimeline(project.id, task.id), 'timeline').entries;
      assert.deepEqual(before, stored, 'read whole until something is appended');

      const current = must(await reopened.findTask(project.id, task.id), 'task');
      assert.equal(await reopened.replaceTask(current, current, numbered(maxEntries + 31, 1)), true);
      const after = must(await reopened.readTimeline(project.id, task.id), 'timeline').entries;
      const leftOut = stored.length + 1 - maxEntries + 1;
      assert.deepEqual(after, [
        ...stored.slice(0, keepFirst),
        omittedEntry(leftOut, T0 + keepFirst + leftOut),
        ...numbered(keepFirst + leftOut + 1, maxEntries - keepFirst - 1),
      ]);
      assert.equal(length(), maxEntries);
    });

    test('a new file gets 8 KiB pages; a file made with 4 KiB pages keeps them and works', async () => {
      await openStore().close();
      const fresh = new Database(path, { readonly: true });
      try {
        assert.equal(PAGE_BYTES, 8192);
        assert.equal(fresh.pragma('page_size', { simple: true }), PAGE_BYTES);
      } finally {
        fresh.close();
      }

      // A file from before: the default page size, every migration applied, in WAL mode.
      const oldPath = join(dir, 'data', 'old.db');
      const raw = new Database(oldPath);
      raw.pragma('journal_mode = WAL');
      migrate(raw);
      assert.equal(raw.pragma('page_size', { simple: true }), 4096);
      raw.close();
      const store = new SqliteStore({ path: oldPath });
      try {
        const project = newProject();
        await store.insertProject(project);
        const task = await insertAt(store, project.id, T0);
        const [claimed] = await store.claimDue(T0, 5, 1_000);
        assert.equal(claimed?.id, task.id, 'it claims from the old file');
      } finally {
        await store.close();
      }
      const after = new Database(oldPath, { readonly: true });
      try {
        assert.equal(after.pragma('page_size', { simple: true }), 4096, 'an existing file is not rewritten');
      } finally {
        after.close();
      }
    });

    test('a database from a newer server is refused, and the lock is let go', async () => {
      await openStore().close();
      const raw = new Database(path);
      raw.pragma(`user_version = ${LATEST_SCHEMA + 1}`);
      raw.close();
      assert.throws(() => new SqliteStore({ path }), /newer than this server knows/);
      assert.equal(existsSync(`${path}.lock.pid`), false, 'the lock was let go');
      assert.throws(() => new SqliteStore({ path }), /newer than this server knows/, 'the same error again, not a lock error');
    });

    test('closing and re-opening keeps projects, tasks, timelines, leases, counts and the heartbeat', async () => {
      const first = openStore();
      const project = newProject({ as: 'GUEST' });
      await first.insertProject(project);
      const leased = await insertAt(first, project.id, T0 + 1_000);
      const running = await insertAt(first, project.id, T0 + 50_000);
      const paused = await pause(first, await insertAt(first, project.id, T0 + 60_000), T0 + 500);
      const completed = await insertInState(first, project.id, 'COMPLETED', T0 + 700);
      await first.claimDue(T0 + 1_000, 1, 30_000);
      assert.equal(await first.heartbeat(T0 + 1_000), null);

      const ids = [leased.id, running.id, paused.id, completed.id];
      const snapshot = async (store: SqliteStore) => ({
        project: await store.findProject(project.id),
        tasks: await Promise.all(ids.map((id) => store.findTask(project.id, id))),
        timelines: await Promise.all(ids.map((id) => store.readTimeline(project.id, id))),
        active: await store.countActive(project.id),
        nextDue: await store.nextDueAt(),
      });
      const before = await snapshot(first);
      assert.equal(before.active, 3);
      assert.ok(leaseOf(before.tasks[0]), 'one task is leased');
      await first.close();
      assert.equal(existsSync(`${path}.lock.pid`), false, 'close releases the lock');

      const second = openStore();
      assert.deepEqual(await snapshot(second), before);
      assert.equal(await second.heartbeat(T0 + 9_000), T0 + 1_000);
      assert.equal(await second.releaseAllLeases(), 1, 'the lease left by the previous run is still there to release');
      assert.equal(await second.nextDueAt(), T0 + 1_000);
    });
  });

  describe('lock file', () => {
    test('names this process while open, and a second open in the same process is refused', async () => {
      const store = openStore();
      assert.equal(readFileSync(`${path}.lock.pid`, 'utf8'), String(process.pid));
      assert.throws(() => new SqliteStore({ path }), new RegExp(`Another Kuueri Tasks process \\(pid ${process.pid}\\)`));
      await store.close();
      assert.equal(existsSync(`${path}.lock.pid`), false);
      await openStore().close();
    });

    test('a second process is refused while the first holds the database, and gets in once it closes', async () => {
      const store = openStore();
      const project = newProject();
      await store.insertProject(project);
      await insertAt(store, project.id, T0 + 1_000);

      const refused = await collect(node(TRY_OPEN, { DB: path, PROJECT: project.id })).exit;
      assert.equal(refused.code, 3, `the child was not refused: ${refused.stdout}${refused.stderr}`);
      assert.match(refused.stderr, new RegExp(`Another Kuueri Tasks process \\(pid ${process.pid}\\) is using this database`));
      assert.match(refused.stderr, /one server per SQLite database/);
      assert.equal(readFileSync(`${path}.lock.pid`, 'utf8'), String(process.pid), 'the refused process left the lock alone');
      assert.equal(await store.countActive(project.id), 1, 'the holder keeps working');

      await store.close();
      const admitted = await collect(node(TRY_OPEN, { DB: path, PROJECT: project.id })).exit;
      assert.equal(admitted.code, 0, admitted.stderr);
      assert.match(admitted.stdout, /opened, count=1/);
      assert.equal(existsSync(`${path}.lock.pid`), false, 'the child released the lock on close');
    });

    test('a lock left by a process killed with SIGKILL is taken over, with the data it wrote', async () => {
      const projectId = newId(T0);
      const child = node(HOLD, { DB: path, PROJECT: projectId });
      children.push(child);
      const { output, exit } = collect(child);
      await new Promise<void>((resolve, reject) => {
        child.stdout?.on('data', () => {
          if (output().stdout.includes('ready')) resolve();
        });
        exit.then((e) => reject(new Error(`the holder exited early (${e.code}): ${e.stderr}`)), reject);
      });

      assert.throws(() => new SqliteStore({ path }), new RegExp(`Another Kuueri Tasks process \\(pid ${child.pid}\\)`));
      child.kill('SIGKILL');
      const ended = await exit;
      assert.equal(ended.signal, 'SIGKILL');
      assert.equal(
        readFileSync(`${path}.lock.pid`, 'utf8'),
        String(child.pid),
        'the dead holder left its pid behind, but the kernel let its lock go',
      );

      const store = openStore();
      assert.equal(readFileSync(`${path}.lock.pid`, 'utf8'), String(process.pid));
      assert.equal(must(await store.findProject(projectId), "the child's project").email, `${projectId.toLowerCase()}@child.example`);
    });
  });

  test('one turn of writes counts active tasks exactly: a cancel, inserts up to the limit, a refused one and one that throws', async () => {
    // The write batch counts in memory and stores each project's count once, before its commit
    // (active-counts.ts). The insert with a taken id throws, so the batch runs a second time with
    // savepoints: nothing of the first run may be counted twice.
    const store = openStore();
    const project = newProject();
    await store.insertProject(project);
    const first = await insertAt(store, project.id, T0 + 5_000);
    const canceled = unsubscribeTask(first, T0 + 10);
    const [ok1, ok2, over, clash] = [1, 2, 3, 4].map((i) => subscribeAt(project.id, T0 + 1_000 + i));
    const results = await Promise.allSettled([
      store.replaceTask(first, canceled.task, canceled.entries),
      store.insertTask(ok1!.task, ok1!.entries, 2),
      store.insertTask(ok2!.task, ok2!.entries, 2),
      store.insertTask({ ...clash!.task, id: first.id }, clash!.entries, 10), // room, so it reaches the INSERT
      store.insertTask(over!.task, over!.entries, 2),
    ]);
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? 'ok' : isAppError(r.reason) ? r.reason.code : 'threw')),
      ['ok', 'ok', 'ok', 'threw', 'QUEUE_FULL'],
    );
    assert.equal(await store.countActive(project.id), 2, 'ok1 and ok2; the cancel freed the slot of the first');
    const raw = new Database(path, { readonly: true });
    try {
      const stored = must(raw.prepare<[string], { n: number }>('SELECT active AS n FROM projects WHERE id = ?').get(project.id), 'project');
      const running = must(
        raw
          .prepare<[string], { n: number }>("SELECT COUNT(*) AS n FROM tasks WHERE project_id = ? AND state IN ('RUNNING', 'PAUSED')")
          .get(project.id),
        'tasks',
      );
      assert.equal(stored.n, running.n, 'the stored count is the tasks that are active');
    } finally {
      raw.close();
    }
    // A project that does not exist is still an error, not a full queue.
    const orphan = subscribeAt(newId(T0), T0 + 1_000);
    await assert.rejects(store.insertTask(orphan.task, orphan.entries, 2), /does not exist/);
  });

  test('a batch with a taken id stores none of its tasks and counts none of them', async () => {
    // insertTasks writes a batch as multi-row INSERTs (task-inserter.ts) after counting it: a batch
    // that throws must leave the counts as they were, in the first run and in the one with savepoints.
    const store = openStore();
    const project = newProject();
    await store.insertProject(project);
    const taken = await insertAt(store, project.id, T0 + 5_000);
    const batch = Array.from({ length: 120 }, (_, i) => subscribeAt(project.id, T0 + 1_000 + i).task);
    batch[70] = { ...batch[70]!, id: taken.id };
    const single = subscribeAt(project.id, T0 + 3_000); // the same turn: it shares the batch's transaction
    const [batchResult, singleResult] = await Promise.allSettled([
      store.insertTasks(batch, 1_000),
      store.insertTask(single.task, single.entries, 1_000),
    ]);
    assert.ok(batchResult.status === 'rejected', 'the batch with a taken id fails');
    assert.match(String(batchResult.reason), /id of a task that exists/);
    assert.equal(singleResult.status, 'fulfilled', 'a write of the same turn stays alone');
    assert.equal(await store.findTask(project.id, batch[0]!.id), null);
    assert.equal(await store.countActive(project.id), 2, 'the task stored before and the single insert');
    // The next batch is counted from there, and its tasks read back whole, each with its own request.
    const next = Array.from({ length: 120 }, (_, i) => ({
      ...subscribeAt(project.id, T0 + 1_000 + i).task,
      request: Buffer.of(2, i, 7, i),
    }));
    assert.deepEqual(await store.insertTasks(next, 100), [...Array<boolean>(98).fill(true), ...Array<boolean>(22).fill(false)]);
    assert.equal(await store.countActive(project.id), 100);
    for (const task of next.slice(0, 98)) {
      const { version, ...found } = must(await store.findTask(project.id, task.id), task.id);
      assert.deepEqual(found, task);
      assert.equal(version, 1);
    }
  });

  test('listings read through a connection of their own and see every committed write', async () => {
    const store = openStore();
    const project = newProject();
    await store.insertProject(project);
    const first = await insertAt(store, project.id, T0 + 5_000);
    assert.deepEqual(
      (await store.listTasks(project.id, { limit: 10 })).tasks.map((t) => t.id),
      [first.id],
    );
    // Written after the listing's statement was prepared: the next page sees it.
    const second = await insertAt(store, project.id, T0 + 6_000);
    assert.deepEqual((await store.listTasks(project.id, { limit: 10 })).tasks.map((t) => t.id).sort(), [first.id, second.id].sort());
    await store.close();
    await assert.rejects(store.listTasks(project.id, { limit: 10 }), (error) => isAppError(error) && error.code === 'STORE_UNAVAILABLE');
  });

  test('a deleted or swept task leaves no request row behind', async () => {
    const store = openStore();
    const project = newProject();
    await store.insertProject(project);
    const deleted = await insertInState(store, project.id, 'COMPLETED', T0 + 1_000);
    await insertInState(store, project.id, 'CANCELED', T0 + 1_000); // swept below
    await insertAt(store, project.id, T0 + 5_000); // stays
    assert.equal(await store.deleteTask(deleted), true);
    assert.deepEqual(await store.sweepFinished(T0 + 2_000, 100), { deleted: 1, more: false });
    const raw = new Database(path, { readonly: true });
    try {
      const count = (table: string): number => must(raw.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).get(), table).n;
      assert.equal(count('tasks'), 1);
      assert.equal(count('requests'), 1, 'one request per task left');
    } finally {
      raw.close();
    }
  });

  test('the stored request is exactly the sealed bytes given; the store never sees plaintext', async () => {
    const store = openStore();
    const project = newProject();
    await store.insertProject(project);
    const cipher = createRequestCipher(randomBytes(32));
    const request: HttpRequestSpec = {
      url: 'https://target.example/hook',
      method: 'POST',
      headers: { Authorization: 'Bearer very-secret-value' },
      data: Buffer.from('{"card":"4111"}').toString('base64'),
    };
    const sealedId = newId(T0);
    const sealed = cipher.seal(request, sealedId);
    const opaqueId = newId(T0);
    const opaque = Buffer.from('v9:"any" opaque\nstring ü \u0000 end \xff\xfe');
    for (const [id, request] of [
      [sealedId, sealed],
      [opaqueId, opaque],
    ] as const) {
      await store.insertTask(createTask({ id, projectId: project.id, config: DEFAULT_CONFIG, request }, T0), [], 10);
    }

    const raw = new Database(path, { readonly: true });
    try {
      const column = raw.prepare<[string], { request: Buffer }>(
        'SELECT r.request FROM requests r JOIN tasks t ON t.rid = r.rid WHERE t.id = ?',
      );
      assert.deepEqual(must(column.get(sealedId), 'row').request, sealed);
      assert.deepEqual(must(column.get(opaqueId), 'row').request, opaque);
      const row = JSON.stringify(raw.prepare('SELECT * FROM tasks WHERE id = ?').get(sealedId));
      assert.ok(!row.includes('very-secret-value') && !row.includes('target.example'), 'no plaintext in the row');
    } finally {
      raw.close();
    }
    const found = must(await store.findTask(project.id, sealedId), 'task');
    assert.deepEqual(found.request, sealed);
    const opened = cipher.open(found.request, sealedId);
    assert.equal(opened.url, request.url);
    assert.deepEqual(opened.headers, request.headers);
    assert.deepEqual(opened.body, Buffer.from('{"card":"4111"}'));
    assert.deepEqual(must(await store.findTask(project.id, opaqueId), 'task').request, opaque);
  });

  test('activity counts older than ACTIVITY_KEEP_MS are deleted once a new minute is counted, by the store clock', async () => {
    const clock = new TestClock();
    const store = new SqliteStore({ path: ':memory:', clock });
    try {
      const minute = Math.floor(clock.now() / 60_000) * 60_000;
      await store.addActivity([{ projectId: 'p', minute, delivered: 1, failed: 0 }]);
      clock.advance(ACTIVITY_KEEP_MS - 60_000);
      await store.addActivity([{ projectId: 'p', minute: minute + 60_000, delivered: 1, failed: 0 }]);
      assert.equal((await store.readActivity('p', minute, minute + 120_000)).length, 2, 'kept within ACTIVITY_KEEP_MS');
      clock.advance(2 * 60_000);
      await store.addActivity([{ projectId: 'p', minute: minute + 120_000, delivered: 0, failed: 1 }]);
      assert.deepEqual(
        (await store.readActivity('p', minute, minute + 180_000)).map((c) => c.minute - minute),
        [60_000, 120_000],
      );
    } finally {
      await store.close();
    }
  });
});
