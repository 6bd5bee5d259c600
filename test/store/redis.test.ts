import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { RedisStore, WRITE_BATCH } from '../../src/store/redis/redis-store.js';
import { newId } from '../../src/core/ids.js';
import { DEFAULT_CONFIG } from '../../src/core/subscription.js';
import { applyOutcome, pauseTask, timelineOf, unsubscribeTask } from '../../src/core/task-machine.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';
import { describeTaskStoreContract } from './conformance.js';
import { describeScheduleContract } from './schedule-contract.js';
import { T0, cancel, insertAt, newProject, numbered, pause, step, subscribeAt, succeed, withoutVersion } from './fixtures.js';
import { TIMELINE, omittedEntry } from '../../src/core/timeline.js';
import { must } from '../helpers/must.js';

/**
 * The same contract on a real redis-server started here on a free loopback port. Each test gets
 * its own key prefix (and so its own wake-up channel), which isolates it like a fresh database.
 */
let redis: RedisServer;
let counter = 0;
before(async () => {
  redis = await startRedisServer();
});
after(async () => {
  await redis.close();
});

const RETENTION_SECONDS = 3600;
const openStore = async (): Promise<{ store: RedisStore; cleanup: () => Promise<void> }> => {
  const store = await RedisStore.connect({ url: redis.url, retentionSeconds: RETENTION_SECONDS, prefix: `t${process.pid}.${++counter}:` });
  return { store, cleanup: () => store.close() };
};

/** A store and a plain client on the same Redis, for tests that look under the store. */
async function withRaw(body: (store: RedisStore, raw: Redis) => Promise<void>): Promise<void> {
  const { store, cleanup } = await openStore();
  const raw = new Redis(redis.url, { lazyConnect: true });
  try {
    await raw.connect();
    await body(store, raw);
  } finally {
    raw.disconnect();
    await cleanup();
  }
}

/** How many script calls redis-server has run so far (INFO commandstats). */
async function scriptCalls(raw: Redis): Promise<number> {
  return Number(/cmdstat_evalsha:calls=(\d+)/.exec(await raw.info('commandstats'))?.[1] ?? 0);
}

describeTaskStoreContract('redis', openStore, {
  skip: [
    {
      reason: 'Redis expires finished tasks itself (EXPIRE when they finish); sweepFinished answers 0 — see the retention test below',
      tests: [
        'deletes tasks finished before the cut-off, with their timelines, and nothing else',
        'a step deletes at most `budget` rows: a task and each of its entries count one',
        'a timeline longer than a whole step is deleted over several steps, its task with the last',
      ],
    },
  ],
});

describeScheduleContract('redis', openStore);

describe('redis specifics', () => {
  test('the seed layout: projects in db 0, records in db 1, configurations in db 2, timelines in db 3', async () => {
    const { store, cleanup } = await openStore();
    const raw = new Redis(redis.url, { lazyConnect: true });
    try {
      await raw.connect();
      const project = newProject();
      await store.insertProject(project);
      const task = await insertAt(store, project.id, T0);
      const prefix = `t${process.pid}.${counter}:`;
      const where = async (db: number, key: string): Promise<number> => {
        await raw.select(db);
        return raw.exists(key);
      };
      assert.equal(await where(0, `${prefix}project:${project.id}`), 1);
      assert.equal(await where(1, `${prefix}task:${task.id}`), 1);
      assert.equal(await where(1, `${prefix}due`), 1);
      assert.equal(await where(2, `${prefix}config:${task.id}`), 1);
      assert.equal(
        await where(3, `${prefix}timeline:${task.id}`),
        0,
        'a new task has no stored entry yet (its Subscribe entry is derived)',
      );
      await pause(store, task, T0 + 1);
      assert.equal(await where(3, `${prefix}timeline:${task.id}`), 1);
      // Nothing of the task lives in db 0, and no project key in db 1.
      assert.equal(await where(0, `${prefix}task:${task.id}`), 0);
      assert.equal(await where(1, `${prefix}project:${project.id}`), 0);
    } finally {
      raw.disconnect();
      await cleanup();
    }
  });

  test('a listing skips a task whose record expired and drops its entry from the index it read', async () => {
    await withRaw(async (store, raw) => {
      const prefix = `t${process.pid}.${counter}:`;
      const project = newProject();
      await store.insertProject(project);
      const kept = await insertAt(store, project.id, T0 + 60_000, { tags: ['k'] });
      const gone = await succeed(store, await insertAt(store, project.id, T0), T0);
      await raw.select(1);
      const all = `${prefix}list:${project.id}`;
      const completed = `${prefix}list:${project.id}:state:COMPLETED`;
      assert.equal(await raw.zcard(all), 2);
      assert.equal(await raw.zscore(completed, gone.id), '0');
      await raw.del(`${prefix}task:${gone.id}`); // as its EXPIRE does
      assert.deepEqual(
        (await store.listTasks(project.id, { limit: 10 })).tasks.map((t) => t.id),
        [kept.id],
      );
      assert.deepEqual(await raw.zrange(all, '0', '-1'), [kept.id], 'dropped from the index the listing read');
      assert.equal(await raw.zcard(completed), 1, 'an index no listing read keeps its entry until one does');
      assert.deepEqual((await store.listTasks(project.id, { limit: 10, states: ['COMPLETED'] })).tasks, []);
      assert.equal(await raw.zcard(completed), 0);
    });
  });

  test("a task joins its schedule's and its flow key's listing indexes when inserted and leaves them when deleted", async () => {
    await withRaw(async (store, raw) => {
      const prefix = `t${process.pid}.${counter}:`;
      const project = newProject();
      await store.insertProject(project);
      const scheduleId = newId(T0);
      const run = await insertAt(store, project.id, T0, { scheduleId, flowKey: 'k.1' });
      const plain = await insertAt(store, project.id, T0);
      const bySchedule = `${prefix}list:${project.id}:schedule:${scheduleId}`;
      const byFlow = `${prefix}list:${project.id}:flow:k.1`;
      await raw.select(1);
      assert.deepEqual(await raw.zrange(bySchedule, '0', '-1'), [run.id], 'a task without a schedule is in none');
      assert.deepEqual(await raw.zrange(byFlow, '0', '-1'), [run.id]);
      assert.equal(await store.deleteTask(await cancel(store, run, T0)), true);
      assert.equal(await store.deleteTask(await cancel(store, plain, T0)), true);
      await raw.select(1);
      assert.equal(await raw.exists(bySchedule, byFlow), 0, 'the delete took it out of both, without a listing');
    });
  });

  test("a task's attempt log expires with the task once it finishes", async () => {
    await withRaw(async (store, raw) => {
      const prefix = `t${process.pid}.${counter}:`;
      const project = newProject();
      await store.insertProject(project);
      const record = { number: 1, startedAt: T0, durationMs: 3, statusCode: 500, errorClass: null, excerpt: null };
      const task = await insertAt(store, project.id, T0, { config: { retry: 1 } });
      const retrying = await step(store, task, { ...applyOutcome(task, { ok: false, statusCode: 500 }, T0 + 10), attempt: record });
      await raw.select(3);
      const key = `${prefix}attempts:${task.id}`;
      assert.equal(await raw.ttl(key), -1, 'kept while the task is active');
      await step(store, retrying, { ...applyOutcome(retrying, { ok: true, statusCode: 200 }, T0 + 20), attempt: { ...record, number: 2 } });
      await raw.select(3);
      const left = await raw.ttl(key);
      assert.ok(left > RETENTION_SECONDS - 60 && left <= RETENTION_SECONDS, `ttl ${left}`);
      assert.equal(await raw.llen(key), 2);
    });
  });

  test('a finished task, its configuration and its timeline expire after the retention period; active ones never do', async () => {
    const { store, cleanup } = await openStore();
    const raw = new Redis(redis.url, { lazyConnect: true });
    try {
      await raw.connect();
      const prefix = `t${process.pid}.${counter}:`;
      const project = newProject();
      await store.insertProject(project);
      const running = await insertAt(store, project.id, T0 + 60_000);
      const other = await insertAt(store, project.id, T0 + 5);
      const completed = await succeed(
        store,
        must(
          (await store.claimDue(T0 + 10, 10, 1000)).find((t) => t.id === other.id),
          'claimed',
        ),
        T0 + 20,
      );
      const third = await insertAt(store, project.id, T0 + 50_000);
      const canceled = await cancel(store, third, T0 + 30);
      const ttl = async (db: number, key: string): Promise<number> => {
        await raw.select(db);
        return raw.ttl(key);
      };
      for (const finished of [completed, canceled]) {
        assert.notEqual(finished.state, 'RUNNING');
        for (const [db, key] of [
          [1, `task:${finished.id}`],
          [2, `config:${finished.id}`],
          [3, `timeline:${finished.id}`],
        ] as const) {
          const left = await ttl(db, prefix + key);
          assert.ok(left > RETENTION_SECONDS - 60 && left <= RETENTION_SECONDS, `${key} in db ${db}: ttl ${left}`);
        }
      }
      for (const [db, key] of [
        [1, `task:${running.id}`],
        [2, `config:${running.id}`],
      ] as const) {
        assert.equal(await ttl(db, prefix + key), -1, `${key} of a RUNNING task must not expire`);
      }
      assert.equal(await ttl(3, `${prefix}timeline:${running.id}`), -2, 'a task with no stored entry has no timeline key');
      assert.deepEqual(await store.sweepFinished(), { deleted: 0, more: false });
    } finally {
      raw.disconnect();
      await cleanup();
    }
  });

  test('the inserts of one turn are one script call, each answered for itself as if it were alone', () =>
    withRaw(async (store, raw) => {
      const full = newProject();
      const open = newProject();
      await store.insertProject(full);
      await store.insertProject(open);
      const existing = await insertAt(store, open.id, T0 + 9_000);
      // full: limit 2, so of its three new tasks the third is refused; open: limit 10.
      const a = subscribeAt(full.id, T0 + 3_000);
      const b = subscribeAt(full.id, T0 + 4_000);
      const c = subscribeAt(full.id, T0 + 5_000);
      const taken = subscribeAt(open.id, T0 + 1_000);
      const clash = { ...taken.task, id: existing.id };
      const missing = subscribeAt(newProject().id, T0 + 1_000);
      const twin = subscribeAt(open.id, T0 + 2_000);
      const twinAgain = subscribeAt(open.id, T0 + 500);
      const before = await scriptCalls(raw);
      const results = await Promise.allSettled([
        store.insertTask(a.task, a.entries, 2),
        store.insertTask(clash, taken.entries, 10),
        store.insertTask(b.task, b.entries, 2),
        store.insertTask(missing.task, missing.entries, 10),
        store.insertTask(c.task, c.entries, 2),
        store.insertTask(twin.task, twin.entries, 10),
        store.insertTask({ ...twinAgain.task, id: twin.task.id }, twinAgain.entries, 10),
      ]);
      assert.equal((await scriptCalls(raw)) - before, 1, 'one script call for the seven inserts');
      assert.deepEqual(
        results.map((r) => (r.status === 'fulfilled' ? 'stored' : ((r.reason as { code?: string }).code ?? 'error'))),
        ['stored', 'error', 'stored', 'error', 'QUEUE_FULL', 'stored', 'error'],
      );
      assert.equal(await store.countActive(full.id), 2);
      assert.equal(await store.countActive(open.id), 2, 'the existing task and the first twin');
      assert.equal((await store.findTask(full.id, a.task.id))?.execAt, T0 + 3_000);
      assert.equal(await store.findTask(full.id, c.task.id), null, 'the refused task left nothing');
      assert.equal(await store.readTimeline(full.id, c.task.id), null);
      assert.deepEqual(await store.findTask(open.id, existing.id), existing, 'the clash left the existing task as it was');
      assert.deepEqual(await store.readTimeline(open.id, existing.id), { entries: [], next: null }, 'and its timeline too');
      const kept = must(await store.findTask(open.id, twin.task.id), 'the first twin');
      assert.equal(kept.execAt, T0 + 2_000, 'the first of two inserts with one id wins');
      assert.equal(await store.nextDueAt(), T0 + 2_000, 'the refused twin due at T0 + 500 is not in the due index');
    }));

  test('a turn with more inserts than one call takes is sent in several, every task stored', () =>
    withRaw(async (store, raw) => {
      const project = newProject();
      await store.insertProject(project);
      const tasks = Array.from({ length: 150 }, (_, i) => subscribeAt(project.id, T0 + 1_000 + i));
      const before = await scriptCalls(raw);
      await Promise.all(tasks.map(({ task, entries }) => store.insertTask(task, entries, 1000)));
      assert.equal((await scriptCalls(raw)) - before, Math.ceil(150 / WRITE_BATCH), `150 inserts in calls of at most ${WRITE_BATCH}`);
      assert.equal(await store.countActive(project.id), 150);
      const found = await Promise.all(tasks.map(({ task }) => store.findTask(project.id, task.id)));
      assert.equal(found.filter((t) => t !== null).length, 150);
      assert.equal(await store.nextDueAt(), T0 + 1_000);
    }));

  test('the compare-and-sets of one turn are one script call, each answered as if alone', () =>
    withRaw(async (store, raw) => {
      const project = newProject();
      await store.insertProject(project);
      const done = await insertAt(store, project.id, T0 + 1_000);
      const paused = await insertAt(store, project.id, T0 + 2_000);
      const twice = await insertAt(store, project.id, T0 + 3_000);
      const stale = await insertAt(store, project.id, T0 + 4_000);
      await step(store, stale, pauseTask(stale, T0 + 10)); // its version moves on
      assert.equal(await store.countActive(project.id), 4);
      const before = await scriptCalls(raw);
      const completion = applyOutcome(done, { ok: true, statusCode: 200 }, T0 + 1_100);
      const pause = pauseTask(paused, T0 + 20);
      const first = pauseTask(twice, T0 + 20);
      const second = unsubscribeTask(twice, T0 + 20); // expects the version the first write moves on
      const late = unsubscribeTask(stale, T0 + 20);
      const results = await Promise.all([
        store.replaceTask(done, completion.task, completion.entries),
        store.replaceTask(paused, pause.task, pause.entries),
        store.replaceTask(twice, first.task, first.entries),
        store.replaceTask(twice, second.task, second.entries),
        store.replaceTask(stale, late.task, late.entries),
      ]);
      assert.equal((await scriptCalls(raw)) - before, 1, 'one script call for the five writes');
      assert.deepEqual(results, [true, true, true, false, false]);
      assert.equal((await store.findTask(project.id, done.id))?.state, 'COMPLETED');
      assert.equal((await store.findTask(project.id, paused.id))?.state, 'PAUSED');
      assert.equal((await store.findTask(project.id, twice.id))?.state, 'PAUSED', 'the first write of the same task won');
      assert.equal((await store.findTask(project.id, stale.id))?.state, 'PAUSED', 'the stale write changed nothing');
      assert.equal(await store.countActive(project.id), 3, 'only the completed task left the queue');
      assert.equal((await store.readTimeline(project.id, done.id))?.entries.length, completion.entries.length);
      assert.equal((await store.readTimeline(project.id, twice.id))?.entries.length, first.entries.length);
      assert.equal(await store.nextDueAt(), null, 'nothing is due: one finished, three paused');
      const prefix = `t${process.pid}.${counter}:`;
      const ttl = async (db: number, key: string): Promise<number> => {
        await raw.select(db);
        return raw.ttl(key);
      };
      for (const [db, key] of [
        [1, 'task'],
        [2, 'config'],
        [3, 'timeline'],
      ] as const) {
        assert.ok((await ttl(db, `${prefix}${key}:${done.id}`)) > 0, `the finished task's ${key} expires`);
        assert.equal(await ttl(db, `${prefix}${key}:${paused.id}`), -1, `a paused task's ${key} does not`);
      }
    }));

  test('a task written before the field table (every field, its id, base64url request, whole config, stored Subscribe) reads, claims and records', () =>
    withRaw(async (store, raw) => {
      const project = newProject();
      await store.insertProject(project);
      const prefix = `t${process.pid}.${counter}:`;
      const id = newId(T0);
      const sealed = Buffer.from([1, 7, 7, 7, 0, 0xff]);
      const config = { ...DEFAULT_CONFIG, executionAt: T0 + 1_000, retry: 2 };
      const subscribed = { label: 'Subscribe', description: 'Task subscribed; first execution at then', createdAt: T0 };
      // The layout the previous version wrote (insert-tasks-1.lua before this change).
      await raw.select(1);
      await raw.hset(`${prefix}task:${id}`, {
        id,
        projectId: project.id,
        startAt: String(T0),
        request: sealed.toString('base64url'),
        state: 'RUNNING',
        statusCode: '0',
        execAt: String(T0 + 1_000),
        endAt: '0',
        retrying: '0',
        repeating: '0',
        retryCount: '0',
        repeatCount: '0',
        attempts: '0',
        pausedLeft: '0',
        leaseToken: '',
        leaseUntil: '',
        version: '1',
      });
      await raw.zadd(`${prefix}due`, T0 + 1_000, id);
      await raw.select(2);
      await raw.set(`${prefix}config:${id}`, JSON.stringify(config));
      await raw.select(3);
      await raw.rpush(`${prefix}timeline:${id}`, JSON.stringify(subscribed));
      await raw.select(0);
      await raw.hincrby(`${prefix}project:${project.id}`, 'active', 1);

      const expected = {
        id,
        projectId: project.id,
        startAt: T0,
        config,
        request: sealed,
        hostTag: '', // written before tasks had one: no host's share counts it
        tags: [], // written before tasks had them
        scheduleId: '', // likewise
        flowKey: '', // written before flow control: no key's limits apply
        state: 'RUNNING',
        statusCode: 0,
        execAt: T0 + 1_000,
        endAt: 0,
        retrying: false,
        repeating: false,
        retryCount: 0,
        repeatCount: 0,
        attempts: 0,
        retrySince: 0, // written before the retry policy's time cap
        pausedLeft: 0,
        leaseToken: null,
        leaseUntil: 0,
        version: 1,
      };
      assert.deepEqual(await store.findTask(project.id, id), expected);
      const [claimed] = await store.claimDue(T0 + 1_000, 10, 30_000);
      assert.deepEqual({ ...must(claimed, 'claimed'), leaseToken: null, leaseUntil: 0, version: 1 }, expected);
      const failed = applyOutcome(claimed!, { ok: false, statusCode: 500 }, T0 + 1_100);
      assert.equal(await store.replaceTask(claimed!, failed.task, failed.entries), true);
      const after = must(await store.findTask(project.id, id), 'task');
      assert.deepEqual({ ...after, version: 0 }, { ...failed.task, version: 0 });
      const timeline = must(await store.readTimeline(project.id, id), 'timeline').entries;
      assert.deepEqual(
        timelineOf(after, timeline).map((e) => e.label),
        ['Subscribe', 'Error'],
        'the stored Subscribe entry, not a second one',
      );
      assert.equal(timelineOf(after, timeline)[0]!.description, subscribed.description);
    }));

  test('a stored timeline never holds more than maxEntries; its Omitted entry keeps only its count', () =>
    withRaw(async (store, raw) => {
      const { maxEntries, keepFirst } = TIMELINE;
      const key = `t${process.pid}.${counter}:timeline:`;
      const project = newProject();
      await store.insertProject(project);
      let task = await insertAt(store, project.id, T0 + 60_000);
      await raw.select(3);
      for (let n = 0; n < maxEntries + 40; n += 20) {
        task = await step(store, task, { task: withoutVersion(task), entries: numbered(n + 1, 20) });
        assert.equal(await raw.llen(key + task.id), Math.min(n + 20, maxEntries), `after ${n + 20} entries`);
      }
      const omitted = JSON.parse(must(await raw.lindex(key + task.id, keepFirst), 'the Omitted entry')) as unknown;
      assert.deepEqual(omitted, { label: 'Omitted', description: '', createdAt: T0 + keepFirst + 41, metadata: { omitted: 41 } });
    }));

  test('a timeline stored longer than the bound (before it) reads in pages, and is cut at its next entry', () =>
    withRaw(async (store, raw) => {
      const { maxEntries, keepFirst } = TIMELINE;
      const project = newProject();
      await store.insertProject(project);
      const task = await insertAt(store, project.id, T0 + 60_000);
      const key = `t${process.pid}.${counter}:timeline:${task.id}`;
      const stored = numbered(1, maxEntries + 30);
      await raw.select(3);
      await raw.rpush(key, ...stored.map((e) => JSON.stringify(e)));
      const first = must(await store.readTimeline(project.id, task.id, { from: 0, limit: maxEntries }), 'first page');
      const rest = must(await store.readTimeline(project.id, task.id, { from: must(first.next, 'next'), limit: maxEntries }), 'rest');
      assert.deepEqual([...first.entries, ...rest.entries], stored);
      assert.equal(rest.next, null);

      await step(store, task, { task: withoutVersion(task), entries: numbered(maxEntries + 31, 1) });
      assert.equal(await raw.llen(key), maxEntries);
      const leftOut = stored.length + 1 - maxEntries + 1;
      assert.deepEqual(must(await store.readTimeline(project.id, task.id), 'timeline').entries, [
        ...stored.slice(0, keepFirst),
        omittedEntry(leftOut, T0 + keepFirst + leftOut),
        ...numbered(keepFirst + leftOut + 1, maxEntries - keepFirst - 1),
      ]);
    }));

  test('a pending task’s hash holds only what is not zero, and its sealed request as bytes', () =>
    withRaw(async (store, raw) => {
      const project = newProject();
      await store.insertProject(project);
      const task = await insertAt(store, project.id, T0 + 1_000);
      await raw.select(1);
      const hash = await raw.hgetallBuffer(`t${process.pid}.${counter}:task:${task.id}`);
      assert.deepEqual(Object.keys(hash).sort(), ['execAt', 'projectId', 'request', 'startAt', 'state', 'version']);
      assert.deepEqual(hash.request, Buffer.from(task.request));
    }));

  test('claims and outcomes count versions as exact integers, past where Lua would print a number as 1e+15', () =>
    withRaw(async (store, raw) => {
      const project = newProject();
      await store.insertProject(project);
      const task = await insertAt(store, project.id, T0 + 1_000);
      const big = 2 ** 52; // the scripts add one to what they read, in Lua's doubles
      const key = `t${process.pid}.${counter}:task:${task.id}`;
      await raw.select(1);
      await raw.hset(key, 'version', String(big));
      const [claimed] = await store.claimDue(T0 + 1_000, 10, 30_000);
      assert.equal(must(claimed, 'claimed task').version, big + 1, 'the claim answers the version it wrote');
      assert.equal(await raw.hget(key, 'version'), String(big + 1));
      const outcome = applyOutcome(claimed!, { ok: true, statusCode: 200 }, T0 + 1_100);
      assert.equal(await store.replaceTask(claimed!, outcome.task, outcome.entries), true);
      assert.equal(must(await store.findTask(project.id, task.id), 'task').version, big + 2);
    }));

  test('Redis out of memory answers STORE_UNAVAILABLE, with Redis’s OOM refusal as its cause', () =>
    withRaw(async (store, raw) => {
      const project = newProject();
      await store.insertProject(project);
      await raw.config('SET', 'maxmemory', '1');
      try {
        const { task, entries } = subscribeAt(project.id, T0 + 1_000);
        await assert.rejects(store.insertTask(task, entries, 10), (error: unknown) => {
          assert.equal((error as { code?: string }).code, 'STORE_UNAVAILABLE');
          assert.match(String(((error as Error).cause as Error | undefined)?.message), /^OOM/);
          return true;
        });
      } finally {
        await raw.config('SET', 'maxmemory', '0');
      }
    }));

  test('Redis going away answers STORE_UNAVAILABLE at once, and the store works again when it is back', async () => {
    const server = await startRedisServer({ persistence: true });
    const store = await RedisStore.connect({ url: server.url, retentionSeconds: 60 });
    try {
      const project = newProject();
      await store.insertProject(project);
      await server.stop();
      await assert.rejects(store.findProject(project.id), (error: unknown) => {
        assert.equal((error as { code?: string }).code, 'STORE_UNAVAILABLE');
        assert.ok((error as Error).cause instanceof Error, 'the cause is kept for the log');
        return true;
      });
      await assert.rejects(store.claimDue(T0, 10, 1000), (error: unknown) => (error as { code?: string }).code === 'STORE_UNAVAILABLE');
      // Two inserts of one turn: the batch fails as a whole, and each caller hears it.
      const lost = [subscribeAt(project.id, T0 + 1_000), subscribeAt(project.id, T0 + 2_000)];
      const inserts = await Promise.allSettled(lost.map(({ task, entries }) => store.insertTask(task, entries, 10)));
      assert.deepEqual(
        inserts.map((r) => (r.status === 'rejected' ? (r.reason as { code?: string }).code : 'stored')),
        ['STORE_UNAVAILABLE', 'STORE_UNAVAILABLE'],
      );
      await server.start();
      const found = await waitFor('the store to read the project again', () => store.findProject(project.id).catch(() => null), {
        everyMs: 50,
      });
      assert.equal(found.email, project.email, 'the project written before Redis stopped is there after it is back');
      assert.equal(await store.findTask(project.id, lost[0]!.task.id), null, 'an insert answered STORE_UNAVAILABLE was not stored');
      await store.insertTask(lost[0]!.task, lost[0]!.entries, 10);
      assert.ok(await store.findTask(project.id, lost[0]!.task.id), 'and inserts work again');
    } finally {
      await store.close();
      await server.close();
    }
  });
});
