import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test as nodeTest } from 'node:test';
import { newId } from '../../src/core/ids.js';
import { type BreakerPolicy, type Circuit, newCircuit } from '../../src/core/circuit.js';
import { TASK_FIELDS, type Task, type TaskField, type TimelineEntry } from '../../src/core/task.js';
import { STORED_CONFIG_BASE } from '../../src/store/stored-config.js';
import { type Transition, applyOutcome, pauseTask, resumeTask, unsubscribeTask } from '../../src/core/task-machine.js';
import {
  type ClaimShares,
  PARK_WINDOW,
  type StoredTask,
  type SweepStep,
  type AttemptPage,
  type TaskStore,
  type TimelinePage,
  hostGroup,
  projectGroup,
} from '../../src/store/task-store.js';
import { TIMELINE, omittedEntry } from '../../src/core/timeline.js';
import type { AttemptRecord } from '../../src/core/attempt-log.js';
import { ATTEMPT_LOG } from '../../src/core/limits.js';
import {
  T0,
  appError,
  cancel,
  fail,
  insertAt,
  insertInState,
  leaseOf,
  newProject,
  nextDueEvent,
  numbered,
  pause,
  plainEntries,
  step,
  subscribeAt,
  succeed,
  withoutVersion,
} from './fixtures.js';
import { must } from '../helpers/must.js';
import { describeListingContract } from './listing-contract.js';
import { describeFlowContract } from './flow-contract.js';

/**
 * The TaskStore contract (src/store/task-store.ts), as one suite every adapter runs unchanged.
 * Only what the interface promises is tested: no SQL, no keys, no adapter internals. Each test
 * opens a fresh store; time is plain numbers passed as `now`.
 */
export interface ContractSkip {
  /** Why the adapter does not take part in these tests; shown in the test output. */
  reason: string;
  /** Test names, as written below. */
  tests: string[];
}

export function describeTaskStoreContract(
  name: string,
  open: () => Promise<{ store: TaskStore; cleanup: () => Promise<void> }>,
  options: { skip?: ContractSkip[] } = {},
): void {
  const skipped = new Map(options.skip?.flatMap((s) => s.tests.map((t) => [t, s.reason] as const)) ?? []);
  const test = (testName: string, fn: () => Promise<void>): void => {
    const reason = skipped.get(testName);
    if (reason === undefined) void nodeTest(testName, fn);
    else void nodeTest.skip(`${testName} (skipped: ${reason})`, fn);
  };
  describe(`TaskStore contract: ${name}`, () => {
    let store: TaskStore;
    let cleanup: (() => Promise<void>) | null = null;

    beforeEach(async () => {
      ({ store, cleanup } = await open());
    });
    afterEach(async () => {
      await cleanup?.();
      cleanup = null;
    });

    /** A project already in the store. */
    async function project(): Promise<string> {
      const p = newProject();
      await store.insertProject(p);
      return p.id;
    }

    async function timelineOf(task: StoredTask): Promise<TimelineEntry[]> {
      return plainEntries(must(await store.readTimeline(task.projectId, task.id), `timeline of ${task.id}`).entries);
    }

    describe('projects', () => {
      test('ping answers, and kind names the adapter', async () => {
        await store.ping();
        assert.equal(typeof store.kind, 'string');
        assert.ok(store.kind.length > 0);
      });

      test('insertProject then findProject answers the project as written', async () => {
        const dev = newProject({ createdAt: T0 + 1 });
        const guest = newProject({ createdAt: T0 + 2, as: 'GUEST' });
        await store.insertProject(dev);
        await store.insertProject(guest);
        assert.deepEqual(await store.findProject(dev.id), dev);
        assert.deepEqual(await store.findProject(guest.id), guest);
      });

      test('a second project with the same email is refused with EMAIL_TAKEN and not stored', async () => {
        const first = newProject();
        await store.insertProject(first);
        const second = newProject({ email: first.email });
        await assert.rejects(store.insertProject(second), appError('EMAIL_TAKEN'));
        assert.equal(await store.findProject(second.id), null);
        assert.deepEqual(await store.findProject(first.id), first);
      });

      test('findProject of an unknown id answers null', async () => {
        await project();
        assert.equal(await store.findProject(newProject().id), null);
      });

      test('tokenHash round-trips as the same bytes, including zero and non-UTF-8 bytes', async () => {
        const bytes = Buffer.from([
          0x00,
          0xff,
          0xfe,
          0x80,
          0xc3,
          0x28,
          0x00,
          0x0a,
          0x0d,
          0x22,
          0x5c,
          ...Array.from({ length: 21 }, (_, i) => i * 12),
        ]);
        const p = newProject({ tokenHash: bytes });
        await store.insertProject(p);
        const found = must(await store.findProject(p.id), 'project');
        assert.ok(Buffer.isBuffer(found.tokenHash), 'tokenHash is a Buffer');
        assert.equal(found.tokenHash.length, 32);
        assert.ok(found.tokenHash.equals(bytes), `tokenHash came back as ${found.tokenHash.toString('hex')}`);
      });

      test("countActive is 0 for a new or unknown project and counts only that project's tasks", async () => {
        const a = await project();
        const b = await project();
        assert.equal(await store.countActive(a), 0);
        assert.equal(await store.countActive(newProject().id), 0);
        await insertAt(store, a, T0 + 100);
        await insertAt(store, a, T0 + 200);
        await insertAt(store, b, T0 + 300);
        assert.equal(await store.countActive(a), 2);
        assert.equal(await store.countActive(b), 1);
      });
    });

    describe('the stored shape (every field of TASK_FIELDS)', () => {
      /** A value for `field` unlike the one a new task has, so a field an adapter drops shows. */
      const sample = (field: TaskField, index: number, projectId: string): unknown => {
        switch (field.kind) {
          case 'id':
            return field.name === 'projectId' ? projectId : newId(T0 + index);
          case 'int':
            return 1_700_000_000_000 + index * 7;
          case 'bool':
            return true;
          case 'state':
            return 'PAUSED';
          case 'token':
            return `token.${field.name}.${index}`;
          case 'tag':
            return `tag-${field.name}-${index}`;
          case 'tags':
            return [`a-${index}`, 'b:2', 'c.3_d'];
          case 'config':
            return {
              ...Object.fromEntries(
                Object.entries(STORED_CONFIG_BASE).map(([key, base], i) => [
                  key,
                  typeof base === 'boolean'
                    ? !base
                    : typeof base === 'number'
                      ? base + 1 + i
                      : { url: `https://callback.example/${index}`, on: ['exhausted', 'success'] },
                ]),
              ),
              retryPolicy: {
                backoff: { baseMs: 1_000 + index, factor: 1.5, capMs: 60_000, jitter: 'none' },
                retryStatuses: [429, 503],
                finalStatuses: [404],
                honorRetryAfter: false,
                retryAfterCapMs: 5_000,
                maxRetryDurationMs: 90_000,
              },
            };
          case 'sealed':
            return Buffer.from([2, 0, 0xff, 0x80, 0x0a, 0x0d, index, ...Buffer.from(`sealed ${field.name}`)]);
        }
      };
      const withField = (task: Task, field: TaskField, value: unknown): Task => ({ ...task, [field.name]: value });

      test('a fixed field is stored by the insert and read back by findTask and claimDue', async () => {
        const p = await project();
        const other = await project();
        for (const [index, field] of TASK_FIELDS.entries()) {
          if (field.mutable) continue;
          const base = subscribeAt(p, T0 + 1_000).task;
          let task = withField(base, field, sample(field, index, other));
          // The due time follows the config: keep it due at T0 + 1_000 whatever the sample.
          if (field.kind === 'config') task = { ...task, config: { ...task.config, executionAt: base.execAt } };
          await store.insertTask(task, [], 10);
          assert.deepEqual(
            withoutVersion(must(await store.findTask(task.projectId, task.id), field.name)),
            task,
            `findTask: ${field.name}`,
          );
          const [claimed] = await store.claimDue(T0 + 1_000, 10, 1_000);
          assert.deepEqual(claimed?.[field.name], task[field.name], `claimDue: ${field.name}`);
          await store.releaseLeases([{ id: task.id, token: must(claimed?.leaseToken, 'token') }]);
          assert.equal(await store.deleteTask(must(await store.findTask(task.projectId, task.id), 'task')), true);
        }
      });

      test('a mutable field is written by replaceTask and read back by findTask and claimDue', async () => {
        const p = await project();
        for (const [index, field] of TASK_FIELDS.entries()) {
          if (!field.mutable) continue;
          const stored = await insertAt(store, p, T0 + 1_000);
          const next = withField(withoutVersion(stored), field, sample(field, index, p));
          assert.equal(await store.replaceTask(stored, next, []), true, field.name);
          const found = must(await store.findTask(p, stored.id), field.name);
          assert.deepEqual(withoutVersion(found), next, `findTask: ${field.name}`);
          if (field.name !== 'state' && field.name !== 'leaseToken' && field.name !== 'leaseUntil' && field.name !== 'execAt') {
            // Still due, so a claim reads it back too (a claim writes the lease fields itself).
            const [claimed] = await store.claimDue(T0 + 1_000, 10, 1_000);
            assert.deepEqual(claimed?.[field.name], next[field.name], `claimDue: ${field.name}`);
          }
          const current = must(await store.findTask(p, stored.id), 'task');
          assert.equal(await store.deleteTask(current), true);
          if (current.state === 'RUNNING' || current.state === 'PAUSED') assert.equal(await store.countActive(p), 0);
        }
      });
    });

    describe('circuit breakers', () => {
      const policy: BreakerPolicy = { failureThreshold: 3, openMs: 1_000, maxOpenMs: 8_000, callbackUrl: 'https://example.com/cb' };
      const open = (key: string): Circuit => ({
        ...newCircuit('host', key, Buffer.from([0, 1, 0xff])),
        state: 'open',
        failures: 3,
        openMs: 1_000,
        openedAt: T0,
        retryAt: T0 + 1_000,
        opens: 1,
      });

      test('breakers: off until a policy is written; a policy and circuits round-trip; off forgets the circuits', async () => {
        const p = await project();
        assert.deepEqual(await store.readBreakers(p), { policy: null, circuits: [] });
        await store.writeBreakerPolicy(p, policy);
        await store.writeBreakerPolicy(p, { ...policy, callbackUrl: null });
        assert.ok(await store.writeCircuit(p, null, open('tag-a')));
        assert.ok(await store.writeCircuit(p, null, { ...newCircuit('flow', 'orders', null), failures: 1 }));
        const read = await store.readBreakers(p);
        assert.deepEqual(read.policy, { ...policy, callbackUrl: null });
        assert.deepEqual(
          read.circuits.map((c) => ({ ...c, name: c.name ? Buffer.from(c.name) : null })),
          [
            { ...open('tag-a'), name: Buffer.from([0, 1, 0xff]), version: 1 },
            { ...newCircuit('flow', 'orders', null), failures: 1, version: 1 },
          ].sort((a, b) => (a.kind < b.kind ? -1 : 1)),
        );
        const other = await project();
        assert.deepEqual(await store.readBreakers(other), { policy: null, circuits: [] }, 'another project sees none of them');
        await store.writeBreakerPolicy(p, null);
        assert.deepEqual(await store.readBreakers(p), { policy: null, circuits: [] });
      });

      test('writeCircuit is a compare-and-set on the version: a stale write is refused', async () => {
        const p = await project();
        await store.writeBreakerPolicy(p, policy);
        assert.ok(await store.writeCircuit(p, null, open('tag-b')));
        assert.equal(await store.writeCircuit(p, null, open('tag-b')), false, 'a second insert of the same circuit');
        const [first] = (await store.readBreakers(p)).circuits;
        const stale = must(first, 'circuit');
        assert.ok(await store.writeCircuit(p, stale, { ...stale, state: 'half-open', probeTaskId: 'T1' }));
        assert.equal(await store.writeCircuit(p, stale, { ...stale, state: 'half-open', probeTaskId: 'T2' }), false, 'stale version');
        assert.equal(await store.writeCircuit(p, stale, null), false, 'a stale delete');
        const [current] = (await store.readBreakers(p)).circuits;
        assert.equal(current?.probeTaskId, 'T1');
        assert.equal(current?.version, 2);
        assert.ok(await store.writeCircuit(p, must(current, 'circuit'), null));
        assert.deepEqual((await store.readBreakers(p)).circuits, []);
      });
    });

    describe('Idempotency-Key records and signing keys', () => {
      const claim = (keyDigest: string, bodyDigest = 'body-1') => ({ keyDigest, bodyDigest, now: T0, windowMs: 60_000 });

      test('insertTask with a key used already inserts nothing and answers the record, also within one turn', async () => {
        const p = await project();
        const a = subscribeAt(p, T0 + 5_000).task;
        const b = subscribeAt(p, T0 + 5_000).task;
        const c = subscribeAt(p, T0 + 5_000).task;
        // One turn: both stores write these in one batch (one transaction, one script call).
        const answers = await Promise.all([store.insertTask(a, [], 10, claim('k1')), store.insertTask(b, [], 10, claim('k1', 'body-2'))]);
        assert.deepEqual(answers, [null, { taskId: a.id, bodyDigest: 'body-1' }]);
        assert.equal(await store.findTask(p, b.id), null);
        assert.deepEqual(await store.insertTask(c, [], 10, claim('k1')), { taskId: a.id, bodyDigest: 'body-1' });
        assert.equal(await store.countActive(p), 1);
        // Keys are per project.
        const q = await project();
        assert.equal(await store.insertTask(subscribeAt(q, T0 + 5_000).task, [], 10, claim('k1')), null);
      });

      test('a refused insert (queue full) records no key', async () => {
        const p = await project();
        await store.insertTask(subscribeAt(p, T0 + 5_000).task, [], 1);
        await assert.rejects(store.insertTask(subscribeAt(p, T0 + 5_000).task, [], 1, claim('k2')), appError('QUEUE_FULL'));
        assert.equal(await store.insertTask(subscribeAt(p, T0 + 5_000).task, [], 2, claim('k2')), null);
      });

      test('signing keys: none until written; written at insertProject or replaced later, bytes kept', async () => {
        const p = await project();
        assert.equal(await store.readSigningKeys(p), null);
        const keys = { current: Buffer.from([1, 2, 3]), previous: Buffer.from([0, 4, 5]), previousUntil: T0 + 1 };
        await store.writeSigningKeys(p, keys);
        const read = must(await store.readSigningKeys(p), 'keys');
        assert.deepEqual(
          [Buffer.from(read.current), Buffer.from(read.previous!), read.previousUntil],
          [keys.current, keys.previous, keys.previousUntil],
        );
        await store.writeSigningKeys(p, { current: Buffer.from([9]), previous: null, previousUntil: 0 });
        const replaced = must(await store.readSigningKeys(p), 'keys');
        assert.deepEqual([Buffer.from(replaced.current), replaced.previous, replaced.previousUntil], [Buffer.from([9]), null, 0]);
      });
    });

    describe('insertTask, findTask, readTimeline', () => {
      test('findTask answers the task exactly as inserted, with a numeric version', async () => {
        const p = await project();
        const { task, entries } = subscribeAt(p, T0 + 5_000, {
          config: { retry: 3, retryInterval: 2_000, retryExponential: false, repeat: 2, repeatAt: T0 + 90_000, timeout: 12_345 },
        });
        await store.insertTask(task, entries, 10);
        const found = must(await store.findTask(p, task.id), 'task');
        assert.equal(typeof found.version, 'number');
        assert.deepEqual(withoutVersion(found), task);
      });

      test('readTimeline answers every entry oldest first, in the order appended, with metadata preserved', async () => {
        const p = await project();
        const first = subscribeAt(p, T0 + 1_000, { config: { retry: 2, retryInterval: 1_000 } });
        const alert: TimelineEntry = {
          label: 'Alert',
          description: 'metadata of every kind',
          createdAt: T0,
          metadata: { text: 'x "quoted" \\ ü', int: 42, float: 1.5, negative: -7, yes: true, no: false },
        };
        await store.insertTask(first.task, [...first.entries, alert], 10);
        let task = must(await store.findTask(p, first.task.id), 'task');

        const failed = applyOutcome(task, { ok: false, statusCode: 500 }, T0 + 1_000); // Error, retry 1 scheduled
        task = await step(store, task, failed);
        const retried = applyOutcome(task, { ok: true, statusCode: 200 }, T0 + 3_000); // Retry {retryCount: 1} + Complete, same createdAt
        task = await step(store, task, retried);
        assert.equal(task.state, 'COMPLETED');
        assert.equal(retried.entries.length, 2);

        const expected = plainEntries([...first.entries, alert, ...failed.entries, ...retried.entries]);
        assert.deepEqual(await timelineOf(task), expected);
        assert.deepEqual(
          expected.map((e) => e.label),
          ['Alert', 'Error', 'Retry', 'Complete'],
        );
        assert.deepEqual(expected[2]?.metadata, { retryCount: 1 });
      });

      test('a task is invisible to another project and unknown ids answer null', async () => {
        const owner = await project();
        const other = await project();
        const task = await insertAt(store, owner, T0 + 1_000);
        assert.equal(await store.findTask(other, task.id), null);
        assert.equal(await store.readTimeline(other, task.id), null);
        const unknown = subscribeAt(owner, T0).task.id;
        assert.equal(await store.findTask(owner, unknown), null);
        assert.equal(await store.readTimeline(owner, unknown), null);
        assert.ok(await store.findTask(owner, task.id), 'the owner still sees it');
      });

      test('at the limit insertTask fails with QUEUE_FULL and stores nothing', async () => {
        const p = await project();
        await insertAt(store, p, T0 + 5_000, { limit: 2 });
        await insertAt(store, p, T0 + 6_000, { limit: 2 });
        const refused = subscribeAt(p, T0 + 1_000);
        await assert.rejects(store.insertTask(refused.task, refused.entries, 2), appError('QUEUE_FULL'));
        assert.equal(await store.findTask(p, refused.task.id), null);
        assert.equal(await store.readTimeline(p, refused.task.id), null);
        assert.equal(await store.countActive(p), 2);
        assert.equal(await store.nextDueAt(), T0 + 5_000, 'the refused task is not scheduled');
        assert.deepEqual(await store.claimDue(T0 + 1_000, 10, 1_000), [], 'the refused task is never claimed');
      });

      test('the limit counts RUNNING and PAUSED tasks of that project only; a finished task frees its slot', async () => {
        const p = await project();
        const other = await project();
        await insertAt(store, other, T0 + 1_000);
        const running = await insertAt(store, p, T0 + 1_000, { limit: 2 });
        await pause(store, await insertAt(store, p, T0 + 1_000, { limit: 2 }), T0);
        const third = subscribeAt(p, T0 + 1_000);
        await assert.rejects(store.insertTask(third.task, third.entries, 2), appError('QUEUE_FULL'));
        await cancel(store, running, T0 + 10);
        await store.insertTask(third.task, third.entries, 2);
        assert.ok(await store.findTask(p, third.task.id));
        assert.equal(await store.countActive(p), 2);
      });

      test('an insert that fails changes nothing: a second task with a taken id', async () => {
        const p = await project();
        const original = await insertAt(store, p, T0 + 5_000);
        const copy = subscribeAt(p, T0 + 1_000);
        const clash = { ...copy.task, id: original.id };
        await assert.rejects(store.insertTask(clash, copy.entries, 10));
        assert.deepEqual(await store.findTask(p, original.id), original);
        assert.equal((await timelineOf(original)).length, 0, 'no entry was added to the original');
        assert.equal(await store.countActive(p), 1, 'no slot was taken');
        assert.equal(await store.nextDueAt(), T0 + 5_000);
      });

      test('20 inserts in parallel against a limit of 5 store exactly 5', async () => {
        const p = await project();
        const batch = Array.from({ length: 20 }, (_, i) => subscribeAt(p, T0 + 1_000 + i));
        const results = await Promise.allSettled(batch.map(({ task, entries }) => store.insertTask(task, entries, 5)));
        const stored = results.filter((r) => r.status === 'fulfilled').length;
        assert.equal(stored, 5);
        for (const r of results) if (r.status === 'rejected') appError('QUEUE_FULL')(r.reason);
        assert.equal(await store.countActive(p), 5);
        const found = await Promise.all(batch.map(({ task }) => store.findTask(p, task.id)));
        assert.equal(found.filter((t) => t !== null).length, 5);
        const timelines = await Promise.all(batch.map(({ task }) => store.readTimeline(p, task.id)));
        assert.equal(timelines.filter((t) => t !== null).length, 5);
      });
    });

    describe('insertTasks (a batch of new tasks)', () => {
      test('stores every task as insertTask would, answering true for each, in order', async () => {
        const p = await project();
        const other = await project();
        const batch = [subscribeAt(p, T0 + 3_000).task, subscribeAt(other, T0 + 1_000).task, subscribeAt(p, T0 + 2_000).task];
        assert.deepEqual(await store.insertTasks(batch, 10), [true, true, true]);
        for (const task of batch) {
          const found = must(await store.findTask(task.projectId, task.id), `task ${task.id}`);
          assert.deepEqual(withoutVersion(found), task);
          assert.deepEqual(await timelineOf(found), []);
        }
        assert.equal(await store.countActive(p), 2);
        assert.equal(await store.countActive(other), 1);
        assert.equal(await store.nextDueAt(), T0 + 1_000);
        const claimed = await store.claimDue(T0 + 2_000, 10, 1_000);
        assert.deepEqual(
          claimed.map((t) => t.id),
          [batch[1]!.id, batch[2]!.id],
        );
      });

      test('the limit is counted task by task, in order: those past it are refused and store nothing', async () => {
        const p = await project();
        await insertAt(store, p, T0 + 9_000, { limit: 3 });
        const batch = Array.from({ length: 4 }, (_, i) => subscribeAt(p, T0 + 1_000 + i).task);
        assert.deepEqual(await store.insertTasks(batch, 3), [true, true, false, false]);
        assert.equal(await store.countActive(p), 3);
        for (const task of batch.slice(2)) {
          assert.equal(await store.findTask(p, task.id), null);
          assert.equal(await store.readTimeline(p, task.id), null);
        }
        const claimed = await store.claimDue(T0 + 5_000, 10, 1_000);
        assert.deepEqual(
          claimed.map((t) => t.id),
          [batch[0]!.id, batch[1]!.id],
          'a refused task is never claimed',
        );
        // A finished task frees its slot for the next batch.
        await cancel(store, must(await store.findTask(p, batch[0]!.id), 'the first task'), T0 + 6_000);
        assert.deepEqual(await store.insertTasks([batch[2]!, batch[3]!], 3), [true, false]);
      });

      test('a batch of a thousand tasks is counted in order across however the store splits it', async () => {
        const p = await project();
        const batch = Array.from({ length: 1_000 }, (_, i) => subscribeAt(p, T0 + 1_000 + i).task);
        const stored = await store.insertTasks(batch, 777);
        assert.deepEqual(stored, [...Array<boolean>(777).fill(true), ...Array<boolean>(223).fill(false)]);
        assert.equal(await store.countActive(p), 777);
        assert.ok(await store.findTask(p, batch[776]!.id));
        assert.equal(await store.findTask(p, batch[777]!.id), null);
      });

      test('onDue listeners hear of the earliest due time stored', async () => {
        const p = await project();
        await insertAt(store, p, T0 + 50_000);
        const heard = nextDueEvent(store, (at) => at === T0 + 700);
        assert.deepEqual(await store.insertTasks([subscribeAt(p, T0 + 900).task, subscribeAt(p, T0 + 700).task], 10), [true, true]);
        assert.equal(await heard, T0 + 700);
      });

      test('an empty batch answers an empty list and changes nothing', async () => {
        const p = await project();
        assert.deepEqual(await store.insertTasks([], 10), []);
        assert.equal(await store.countActive(p), 0);
        assert.equal(await store.nextDueAt(), null);
      });
    });

    describe('replaceTask (compare-and-set)', () => {
      test('a current version is written, with its entries, and gets a new version', async () => {
        const p = await project();
        const task = await insertAt(store, p, T0 + 5_000);
        const paused = pauseTask(task, T0 + 1_000);
        assert.equal(await store.replaceTask(task, paused.task, paused.entries), true);
        const after = must(await store.findTask(p, task.id), 'task');
        assert.deepEqual(withoutVersion(after), withoutVersion(paused.task));
        assert.notEqual(after.version, task.version);
        assert.deepEqual(
          (await timelineOf(after)).map((e) => e.label),
          ['Pause'],
        );
      });

      test('a stale version is refused: false, and neither the task, its timeline nor the count change', async () => {
        const p = await project();
        const stale = await insertAt(store, p, T0 + 5_000);
        const current = await pause(store, stale, T0 + 1_000);
        const timeline = await timelineOf(current);

        const late = unsubscribeTask(stale, T0 + 2_000);
        assert.equal(await store.replaceTask(stale, late.task, late.entries), false);
        assert.deepEqual(must(await store.findTask(p, stale.id), 'task'), current);
        assert.deepEqual(await timelineOf(current), timeline);
        assert.equal(await store.countActive(p), 1, 'the refused cancel did not free a slot');
      });

      test('replacing a deleted task answers false and does not bring it back', async () => {
        const p = await project();
        const running = await insertAt(store, p, T0 + 5_000);
        const canceled = await cancel(store, running, T0 + 1_000);
        assert.equal(await store.deleteTask(canceled), true);
        const late = unsubscribeTask(running, T0 + 2_000);
        assert.equal(await store.replaceTask(canceled, late.task, late.entries), false);
        assert.equal(await store.findTask(p, running.id), null);
        assert.equal(await store.readTimeline(p, running.id), null);
      });

      test('every write changes the version, with or without entries', async () => {
        const p = await project();
        let task = await insertAt(store, p, T0 + 5_000);
        const versions = [task.version];
        for (let i = 1; i <= 4; i++) {
          const next = { ...task, statusCode: 200 + i };
          assert.equal(await store.replaceTask(task, next, []), true);
          task = must(await store.findTask(p, task.id), 'task');
          assert.equal(task.statusCode, 200 + i);
          versions.push(task.version);
        }
        assert.equal(new Set(versions).size, versions.length, `versions repeat: ${versions.join(', ')}`);
        assert.deepEqual(await timelineOf(task), [], 'no entries were appended');
        assert.equal(await store.replaceTask({ ...task, version: versions[2]! }, task, []), false, 'an older version is stale');
      });

      test('a whole life, step by step, reads back after each write exactly as the step left it', async () => {
        // Every field a step can change changes somewhere here: lease, state, statusCode, attempts,
        // retrying and retryCount, repeating and repeatCount, execAt, endAt, pausedLeft.
        const p = await project();
        let task = await insertAt(store, p, T0 + 1_000, { config: { retry: 1, retryInterval: 1_000, repeat: 1, repeatInterval: 5_000 } });
        const write = async (transition: Transition, what: string): Promise<void> => {
          task = await step(store, task, transition);
          assert.deepEqual(withoutVersion(task), withoutVersion(transition.task), `after ${what}`);
        };
        const claim = async (now: number, what: string): Promise<void> => {
          const [claimed] = await store.claimDue(now, 10, 30_000);
          task = must(claimed, `a claim for ${what}`);
          assert.deepEqual(
            withoutVersion(must(await store.findTask(p, task.id), 'task')),
            withoutVersion(task),
            `after the claim for ${what}`,
          );
        };
        await claim(T0 + 1_000, 'the first attempt');
        await write(applyOutcome(task, { ok: false, statusCode: 503 }, T0 + 1_100), 'a failed attempt (a retry)');
        await write(pauseTask(task, T0 + 1_200), 'a pause');
        await write(resumeTask(task, T0 + 1_300), 'a resume');
        await claim(task.execAt, 'the retry');
        await write(applyOutcome(task, { ok: true, statusCode: 201 }, task.execAt + 50), 'a success (a repeat)');
        await claim(task.execAt, 'the repeat');
        await write(applyOutcome(task, { ok: true, statusCode: 204 }, task.execAt + 50), 'the last success');
        assert.equal(task.state, 'COMPLETED');
        assert.equal(task.repeatCount, 1);
      });

      test('a claim is a write: a copy read before it is stale, the copy claimDue answers is current', async () => {
        const p = await project();
        const read = await insertAt(store, p, T0 + 1_000);
        const [claimed] = await store.claimDue(T0 + 1_000, 10, 30_000);
        assert.equal(must(claimed, 'claimed task').id, read.id);

        const paused = pauseTask(read, T0 + 1_500); // built from the pre-claim copy: it has no lease
        assert.equal(await store.replaceTask(read, paused.task, paused.entries), false);
        assert.deepEqual(leaseOf(must(await store.findTask(p, read.id), 'task')), leaseOf(claimed), 'the lease survives');

        const outcome = applyOutcome(claimed!, { ok: true, statusCode: 204 }, T0 + 2_000);
        assert.equal(await store.replaceTask(claimed!, outcome.task, outcome.entries), true);
        const done = must(await store.findTask(p, read.id), 'task');
        assert.equal(done.state, 'COMPLETED');
        assert.equal(leaseOf(done), null);
      });
    });

    describe('a bounded timeline (core/timeline.ts TIMELINE)', () => {
      const { maxEntries, keepFirst } = TIMELINE;
      const tail = maxEntries - keepFirst - 1;

      /** Appends entries to a RUNNING task with a write that changes nothing else. */
      const append = (task: StoredTask, entries: TimelineEntry[]): Promise<StoredTask> =>
        step(store, task, { task: withoutVersion(task), entries });

      /** What a timeline of the `n` entries numbered(1, n) must hold once bounded. */
      const bounded = (n: number): TimelineEntry[] => {
        if (n <= maxEntries) return numbered(1, n);
        const leftOut = n - maxEntries + 1;
        return [...numbered(1, keepFirst), omittedEntry(leftOut, T0 + keepFirst + leftOut), ...numbered(n - tail + 1, tail)];
      };

      /** Every page of `size` from the start, joined, with the positions each started at. */
      const readPages = async (task: StoredTask, size: number): Promise<TimelineEntry[]> => {
        const all: TimelineEntry[] = [];
        for (let from: number | null = 0; from !== null;) {
          const page: TimelinePage = must(await store.readTimeline(task.projectId, task.id, { from, limit: size }), 'page');
          assert.ok(page.entries.length <= size, `a page of ${size} held ${page.entries.length}`);
          if (page.next !== null) assert.equal(page.entries.length, size, 'only the last page is short');
          all.push(...page.entries);
          from = page.next;
          assert.ok(all.length <= 2 * maxEntries, 'the pages end');
        }
        return plainEntries(all);
      };

      test('past maxEntries it keeps its first entries, one Omitted entry counting what was left out, and the latest', async () => {
        const p = await project();
        let task = await insertAt(store, p, T0 + 1_000);
        const total = maxEntries + 57;
        const sizes = [1, 7, 50, 13, 2];
        for (let n = 0, i = 0; n < total; i++) {
          const size = Math.min(sizes[i % sizes.length]!, total - n);
          task = await append(task, numbered(n + 1, size));
          n += size;
          const stored = await timelineOf(task);
          assert.equal(stored.length, Math.min(n, maxEntries), `after ${n} entries`);
          assert.deepEqual(stored, bounded(n), `after ${n} entries`);
        }
        const omitted = must((await timelineOf(task))[keepFirst], 'the Omitted entry');
        assert.equal(omitted.label, 'Omitted');
        assert.deepEqual(omitted.metadata, { omitted: total - maxEntries + 1 });
        assert.match(omitted.description, new RegExp(`^${total - maxEntries + 1} entries were left out`));
      });

      test('an insert with more entries than maxEntries is cut the same way', async () => {
        const p = await project();
        const { task } = subscribeAt(p, T0 + 1_000);
        await store.insertTask(task, numbered(1, maxEntries + 5), 10);
        assert.deepEqual(await timelineOf(must(await store.findTask(p, task.id), 'task')), bounded(maxEntries + 5));
      });

      test('pages of any size join up to the whole timeline; the last one has no next', async () => {
        const p = await project();
        const short = await append(await insertAt(store, p, T0 + 1_000), numbered(1, 5));
        const long = await append(await insertAt(store, p, T0 + 1_000), numbered(1, maxEntries + 30));
        for (const [task, whole] of [
          [short, bounded(5)],
          [long, bounded(maxEntries + 30)],
        ] as const) {
          for (const size of [1, 3, keepFirst, keepFirst + 1, maxEntries - 1, maxEntries, TIMELINE.pageMax]) {
            assert.deepEqual(await readPages(task, size), whole, `pages of ${size}`);
          }
        }
        // A page of none tells where the first entry is, and an empty timeline has no next.
        const none = must(await store.readTimeline(p, short.id, { from: 0, limit: 0 }), 'page');
        assert.deepEqual(none.entries, []);
        const from = must(none.next, 'a next position');
        assert.deepEqual(plainEntries(must(await store.readTimeline(p, short.id, { from, limit: 1 }), 'page').entries), numbered(1, 1));
        const empty = await insertAt(store, p, T0 + 1_000);
        assert.deepEqual(await store.readTimeline(p, empty.id, { from: 0, limit: 5 }), { entries: [], next: null });
      });

      test('a position survives appends that cut the timeline: reading on repeats nothing and ends with the latest', async () => {
        const p = await project();
        const readOn = async (task: StoredTask, from: number): Promise<TimelineEntry[]> =>
          plainEntries(must(await store.readTimeline(p, task.id, { from, limit: TIMELINE.pageMax }), 'rest').entries);
        const firstPage = async (task: StoredTask, limit: number) => {
          const page = must(await store.readTimeline(p, task.id, { from: 0, limit }), 'first page');
          return { seen: plainEntries(page.entries), next: must(page.next, 'more after the first page') };
        };

        // Within the first entries, which always stay: the rest is exactly what follows them now.
        let task = await append(await insertAt(store, p, T0 + 1_000), numbered(1, maxEntries + 10));
        let read = await firstPage(task, 10);
        task = await append(task, numbered(maxEntries + 11, 30));
        let now = await timelineOf(task);
        assert.deepEqual([...read.seen, ...(await readOn(task, read.next))], now);

        // Within the latest entries, past those cut since: the rest follows the last entry seen.
        task = await append(await insertAt(store, p, T0 + 1_000), numbered(1, maxEntries + 10));
        read = await firstPage(task, keepFirst + 1 + 50);
        const lastSeen = must(read.seen.at(-1), 'last seen');
        task = await append(task, numbered(maxEntries + 11, 10));
        now = await timelineOf(task);
        const at = now.findIndex((e) => e.description === lastSeen.description);
        assert.ok(at > keepFirst, 'the last entry seen is still stored');
        assert.deepEqual(await readOn(task, read.next), now.slice(at + 1));

        // At an entry cut since: reading on starts at the Omitted entry, which counts it now.
        task = await append(await insertAt(store, p, T0 + 1_000), numbered(1, maxEntries + 10));
        read = await firstPage(task, keepFirst + 1 + 5);
        task = await append(task, numbered(maxEntries + 11, 30));
        now = await timelineOf(task);
        const rest = await readOn(task, read.next);
        assert.equal(rest[0]?.label, 'Omitted');
        assert.deepEqual(rest, now.slice(keepFirst));
      });
    });

    describe('the attempt log (core/limits.ts ATTEMPT_LOG)', () => {
      const { maxEntries } = ATTEMPT_LOG;
      const record = (number: number): AttemptRecord => ({
        number,
        startedAt: T0 + number * 1_000,
        durationMs: number,
        statusCode: number % 2 === 0 ? 503 : 0,
        errorClass: number % 2 === 0 ? null : 'timeout',
        excerpt: number % 3 === 0 ? null : Buffer.from([3, 0, 0xff, 0x7c, number & 0xff]),
      });
      /** Records `from`..`to` with writes that change nothing else of the task. */
      const log = async (task: StoredTask, from: number, to: number): Promise<StoredTask> => {
        let current = task;
        for (let n = from; n <= to; n++)
          current = await step(store, current, { task: withoutVersion(current), entries: [], attempt: record(n) });
        return current;
      };
      const readAll = async (task: StoredTask, size: number): Promise<AttemptRecord[]> => {
        const all: AttemptRecord[] = [];
        for (let before: number | null = null, first = true; first || before !== null; first = false) {
          const page: AttemptPage = must(await store.readAttempts(task.projectId, task.id, { before, limit: size }), 'page');
          assert.ok(page.attempts.length <= size);
          if (page.next !== null) assert.equal(page.attempts.length, size, 'only the last page is short');
          all.push(...page.attempts);
          before = page.next;
          assert.ok(all.length <= 2 * maxEntries, 'the pages end');
        }
        return all.map((r) => ({ ...r, excerpt: r.excerpt === null ? null : Buffer.from(r.excerpt) }));
      };
      const expected = (from: number, to: number): AttemptRecord[] => {
        const out: AttemptRecord[] = [];
        for (let n = to; n >= from; n--) out.push(record(n));
        return out;
      };

      test('records written with outcomes read back newest first, every field and byte as written', async () => {
        const p = await project();
        const task = await log(await insertAt(store, p, T0 + 1_000), 1, 4);
        assert.deepEqual(await readAll(task, 10), expected(1, 4));
        assert.deepEqual(await readAll(task, 3), expected(1, 4), 'pages of 3 join up');
        assert.deepEqual(await readAll(task, 1), expected(1, 4), 'pages of 1 join up');
      });

      test('a task without attempts has an empty log; an unknown task or another project answers null', async () => {
        const p = await project();
        const task = await insertAt(store, p, T0 + 1_000);
        assert.deepEqual(await store.readAttempts(p, task.id, { before: null, limit: 10 }), { attempts: [], next: null });
        assert.equal(await store.readAttempts(await project(), task.id, { before: null, limit: 10 }), null);
        assert.equal(await store.readAttempts(p, newId(T0), { before: null, limit: 10 }), null);
      });

      test('past maxEntries only the latest records are kept', async () => {
        const p = await project();
        const task = await log(await insertAt(store, p, T0 + 1_000), 1, maxEntries + 7);
        assert.deepEqual(await readAll(task, 16), expected(8, maxEntries + 7));
      });

      test('a refused write records no attempt, and a delete takes the log with the task', async () => {
        const p = await project();
        const stale = await insertInState(store, p, 'PAUSED', T0 + 100);
        const current = await log(stale, 1, 1);
        assert.equal(await store.replaceTask(stale, withoutVersion(stale), [], record(2)), false);
        assert.deepEqual(await readAll(current, 10), expected(1, 1));
        assert.equal(await store.deleteTask(current), true);
        assert.equal(await store.readAttempts(p, current.id, { before: null, limit: 10 }), null);
      });
    });

    describe('countActive follows the task state', () => {
      test('RUNNING and PAUSED count; CANCELED, COMPLETED, ERROR and EXCEEDED do not', async () => {
        const p = await project();
        const a = await insertAt(store, p, T0 + 5_000);
        const b = await insertAt(store, p, T0 + 1_000);
        const c = await insertAt(store, p, T0 + 1_000);
        const d = await insertAt(store, p, T0 + 1_000, { config: { retry: 1, retryAt: T0 + 1_500 } });
        assert.equal(await store.countActive(p), 4);

        const pausedA = await pause(store, a, T0 + 100);
        assert.equal(await store.countActive(p), 4, 'PAUSED still counts');
        const resumedA = await step(store, pausedA, resumeTask(pausedA, T0 + 200));
        assert.equal(await store.countActive(p), 4, 'RUNNING again still counts');
        const canceledA = await cancel(store, resumedA, T0 + 300);
        assert.equal(canceledA.state, 'CANCELED');
        assert.equal(await store.countActive(p), 3);

        assert.equal((await succeed(store, b, T0 + 1_000)).state, 'COMPLETED');
        assert.equal(await store.countActive(p), 2);
        assert.equal((await fail(store, c, T0 + 1_000)).state, 'ERROR');
        assert.equal(await store.countActive(p), 1);
        assert.equal((await fail(store, d, T0 + 2_000)).state, 'EXCEEDED');
        assert.equal(await store.countActive(p), 0);
      });

      test('a retry or a repeat keeps the task active', async () => {
        const p = await project();
        const task = await insertAt(store, p, T0 + 1_000, { config: { retry: 1, repeat: 1 } });
        const retrying = await fail(store, task, T0 + 1_000);
        assert.equal(retrying.state, 'RUNNING');
        assert.equal(retrying.retrying, true);
        const repeating = await succeed(store, retrying, T0 + 3_000);
        assert.equal(repeating.repeating, true);
        assert.equal(await store.countActive(p), 1);
      });

      test('deleting a PAUSED task frees its slot; deleting a finished one changes nothing', async () => {
        const p = await project();
        const paused = await insertInState(store, p, 'PAUSED', T0 + 100);
        const canceled = await insertInState(store, p, 'CANCELED', T0 + 100);
        await insertAt(store, p, T0 + 1_000);
        assert.equal(await store.countActive(p), 2);
        assert.equal(await store.deleteTask(canceled), true);
        assert.equal(await store.countActive(p), 2);
        assert.equal(await store.deleteTask(paused), true);
        assert.equal(await store.countActive(p), 1);
      });
    });

    describeListingContract(test, () => store, project);
    describeFlowContract(test, () => store, project);

    describe('deleteTask', () => {
      test('removes the task and its timeline', async () => {
        const p = await project();
        const task = await insertInState(store, p, 'COMPLETED', T0 + 1_000);
        const keep = await insertInState(store, p, 'COMPLETED', T0 + 1_000);
        assert.equal(await store.deleteTask(task), true);
        assert.equal(await store.findTask(p, task.id), null);
        assert.equal(await store.readTimeline(p, task.id), null);
        assert.ok(await store.findTask(p, keep.id), 'another task is untouched');
        assert.equal((await timelineOf(keep)).length, 1);
        assert.equal(await store.deleteTask(task), false, 'a second delete finds nothing');
      });

      test('a stale version is refused and the task stays, with its timeline', async () => {
        const p = await project();
        const stale = await insertInState(store, p, 'PAUSED', T0 + 100);
        const current = await cancel(store, stale, T0 + 200);
        assert.equal(await store.deleteTask(stale), false);
        assert.deepEqual(await store.findTask(p, stale.id), current);
        assert.deepEqual(
          (await timelineOf(current)).map((e) => e.label),
          ['Pause', 'Unsubscribe'],
        );
        assert.equal(await store.countActive(p), 0, 'the refused delete did not decrement again');
      });
    });

    describe('claimDue', () => {
      test('claims only tasks due at now (inclusive), of every project', async () => {
        const a = await project();
        const b = await project();
        const t1 = await insertAt(store, a, T0 + 1_000);
        const t2 = await insertAt(store, b, T0 + 2_000);
        await insertAt(store, a, T0 + 2_001);
        await insertAt(store, b, T0 + 9_000);
        assert.deepEqual(await store.claimDue(T0 + 999, 10, 30_000), []);
        const claimed = await store.claimDue(T0 + 2_000, 10, 30_000);
        assert.deepEqual(claimed.map((t) => t.id).sort(), [t1.id, t2.id].sort());
      });

      test('countDue counts the tasks due at now and not held, no further than the cap', async () => {
        const p = await project();
        for (const offset of [1_000, 2_000, 3_000, 4_000]) await insertAt(store, p, T0 + offset);
        await insertAt(store, p, T0 + 9_000);
        await insertInState(store, p, 'PAUSED', T0 + 1_000);
        assert.equal(await store.countDue(T0 + 999, 100), 0, 'nothing due yet');
        assert.equal(await store.countDue(T0 + 3_000, 100), 3, 'due at now counts (inclusive)');
        assert.equal(await store.countDue(T0 + 8_000, 2), 2, 'the cap bounds the count');
        assert.equal(await store.countDue(T0 + 8_000, 0), 0);
        await store.claimDue(T0 + 2_000, 10, 30_000);
        assert.equal(await store.countDue(T0 + 8_000, 100), 2, 'claimed tasks are held');
        assert.equal(await store.countDue(T0 + 40_000, 100), 5, 'and due again once their lease ran out');
      });

      test('with a limit, the earliest due tasks are the ones claimed', async () => {
        const p = await project();
        const byDue = new Map<number, string>();
        for (const offset of [5_000, 1_000, 3_000, 2_000, 4_000]) byDue.set(offset, (await insertAt(store, p, T0 + offset)).id);
        assert.deepEqual(await store.claimDue(T0 + 10_000, 0, 30_000), [], 'limit 0 claims nothing');
        const first = await store.claimDue(T0 + 10_000, 3, 30_000);
        assert.deepEqual(first.map((t) => t.id).sort(), [byDue.get(1_000), byDue.get(2_000), byDue.get(3_000)].sort());
        const rest = await store.claimDue(T0 + 10_000, 3, 30_000);
        assert.deepEqual(rest.map((t) => t.id).sort(), [byDue.get(4_000), byDue.get(5_000)].sort());
      });

      test('the claimed tasks come back earliest first', async () => {
        const p = await project();
        for (const offset of [5_000, 1_000, 3_000, 2_000, 4_000]) await insertAt(store, p, T0 + offset);
        const claimed = await store.claimDue(T0 + 10_000, 10, 30_000);
        assert.deepEqual(
          claimed.map((t) => t.execAt - T0),
          [1_000, 2_000, 3_000, 4_000, 5_000],
        );
      });

      test('each claimed task gets a lease until now + leaseMs; nothing else about it changes', async () => {
        const p = await project();
        const before = await insertAt(store, p, T0 + 1_000);
        const [claimed] = await store.claimDue(T0 + 1_200, 10, 30_000);
        const lease = must(leaseOf(must(claimed, 'claimed task')), 'lease');
        assert.equal(typeof lease.token, 'string');
        assert.ok(lease.token.length > 0);
        assert.equal(lease.until, T0 + 31_200);
        assert.deepEqual({ ...withoutVersion(claimed!), leaseToken: null, leaseUntil: 0 }, withoutVersion(before));
        assert.deepEqual(await store.findTask(p, before.id), claimed, 'the answer is the task as now stored');
        assert.deepEqual(await timelineOf(claimed!), [], 'a claim adds no entry');
      });

      test('a claimed task is not claimed again before its lease ends, and then again with a new token', async () => {
        const p = await project();
        const task = await insertAt(store, p, T0 + 1_000);
        const [first] = await store.claimDue(T0 + 1_000, 10, 30_000);
        assert.equal(must(first, 'first claim').id, task.id);
        assert.deepEqual(await store.claimDue(T0 + 1_000, 10, 30_000), []);
        assert.deepEqual(await store.claimDue(T0 + 30_999, 10, 30_000), []);
        assert.equal(await store.nextDueAt(), T0 + 31_000, 'due again when the lease ends');

        const [second] = await store.claimDue(T0 + 31_000, 10, 5_000);
        assert.equal(must(second, 'second claim').id, task.id);
        assert.notEqual(leaseOf(second)?.token, leaseOf(first)?.token);
        assert.equal(leaseOf(second)?.until, T0 + 36_000);
        assert.equal(await store.renewLeases([{ id: task.id, token: leaseOf(first)!.token }], T0 + 99_000), 0, 'the old lease is gone');
      });

      test('paused and finished tasks are never claimed', async () => {
        const p = await project();
        for (const state of ['PAUSED', 'CANCELED', 'COMPLETED', 'ERROR', 'EXCEEDED'] as const) {
          const task = await insertInState(store, p, state, T0 + 1_000);
          assert.equal(task.state, state);
        }
        const running = await insertAt(store, p, T0 + 1_000);
        const claimed = await store.claimDue(Number.MAX_SAFE_INTEGER - 1_000_000, 100, 1_000);
        assert.deepEqual(
          claimed.map((t) => t.id),
          [running.id],
        );
        assert.deepEqual(await store.claimDue(Number.MAX_SAFE_INTEGER - 1_000_000, 100, 1_000), []);
      });

      test('claims in parallel never hand out the same task twice', async () => {
        const projects = [await project(), await project()];
        const ids: string[] = [];
        for (let i = 0; i < 30; i++) ids.push((await insertAt(store, projects[i % 2]!, T0 + i)).id);
        const batches = await Promise.all(Array.from({ length: 15 }, () => store.claimDue(T0 + 100, 3, 30_000)));
        const claimed = batches.flat();
        assert.equal(claimed.length, 30, 'every due task was claimed once');
        assert.deepEqual(claimed.map((t) => t.id).sort(), [...ids].sort());
        for (const task of claimed) {
          const stored = must(await store.findTask(task.projectId, task.id), 'task');
          assert.deepEqual(leaseOf(stored), leaseOf(task), `${task.id} holds the lease of the claim that answered it`);
        }
      });
    });

    describe('claimDue with shares (fair dispatch)', () => {
      const shares = (perProject: number, perHost: number, held: Record<string, number> = {}): ClaimShares => ({
        perProject,
        perHost,
        held: new Map(Object.entries(held)),
      });
      const ids = (tasks: readonly StoredTask[]): string[] => tasks.map((t) => t.id);

      test('a project at its share waits in the store while other projects are claimed', async () => {
        const a = await project();
        const b = await project();
        const aTasks: StoredTask[] = [];
        for (let i = 1; i <= 5; i++) aTasks.push(await insertAt(store, a, T0 + i));
        const b1 = await insertAt(store, b, T0 + 10);
        const b2 = await insertAt(store, b, T0 + 11);
        const first = await store.claimDue(T0 + 100, 10, 30_000, shares(2, 100));
        assert.deepEqual(ids(first), [aTasks[0]!.id, aTasks[1]!.id, b1.id, b2.id], 'two of A (its share), then B');
        for (const parked of aTasks.slice(2)) {
          assert.deepEqual(await store.findTask(a, parked.id), parked, 'a parked task is stored unchanged');
        }
        assert.equal(await store.nextDueAt(), T0 + 30_100, 'parked tasks are not due: only the leases are');
        assert.deepEqual(await store.claimDue(T0 + 200, 10, 30_000, shares(2, 100, { [projectGroup(a)]: 2 })), [], 'A still full');
        const one = await store.claimDue(T0 + 300, 10, 30_000, shares(2, 100, { [projectGroup(a)]: 1 }));
        assert.deepEqual(ids(one), [aTasks[2]!.id], 'room for one: the earliest parked task comes back');
        const rest = await store.claimDue(T0 + 400, 10, 30_000, shares(2, 100));
        assert.deepEqual(ids(rest), [aTasks[3]!.id, aTasks[4]!.id]);
        assert.deepEqual(await store.claimDue(T0 + 500, 10, 30_000, shares(2, 100)), []);
      });

      test('what the claimer holds counts against the share', async () => {
        const a = await project();
        const b = await project();
        await insertAt(store, a, T0 + 1);
        const b1 = await insertAt(store, b, T0 + 2);
        const claimed = await store.claimDue(T0 + 100, 10, 30_000, shares(3, 100, { [projectGroup(a)]: 3 }));
        assert.deepEqual(ids(claimed), [b1.id]);
      });

      test('a host at its share waits, whichever projects its tasks belong to; tasks without a host tag do not count', async () => {
        const a = await project();
        const b = await project();
        const onX = [
          await insertAt(store, a, T0 + 1, { hostTag: 'x' }),
          await insertAt(store, b, T0 + 2, { hostTag: 'x' }),
          await insertAt(store, a, T0 + 3, { hostTag: 'x' }),
        ];
        const onY = await insertAt(store, b, T0 + 4, { hostTag: 'y' });
        const untagged = await insertAt(store, a, T0 + 5);
        const first = await store.claimDue(T0 + 100, 10, 30_000, shares(100, 2));
        assert.deepEqual(ids(first), [onX[0]!.id, onX[1]!.id, onY.id, untagged.id]);
        assert.deepEqual(await store.claimDue(T0 + 200, 10, 30_000, shares(100, 2, { [must(hostGroup('x'), 'x')]: 2 })), []);
        assert.deepEqual(ids(await store.claimDue(T0 + 300, 10, 30_000, shares(100, 2))), [onX[2]!.id]);
      });

      test('a parked task that is paused, deleted or claimed meanwhile does not come back as it was', async () => {
        const a = await project();
        const kept = await insertAt(store, a, T0 + 1);
        const paused = await insertAt(store, a, T0 + 2);
        const deleted = await insertAt(store, a, T0 + 3);
        const reclaimed = await insertAt(store, a, T0 + 4);
        assert.deepEqual(ids(await store.claimDue(T0 + 100, 10, 30_000, shares(1, 100))), [kept.id]);
        const pause = pauseTask(paused, T0 + 150);
        assert.ok(await store.replaceTask(paused, pause.task, pause.entries));
        assert.ok(await store.deleteTask(deleted));
        // Without shares a claim takes what is due; the parked tasks are not due until put back.
        assert.deepEqual(await store.claimDue(T0 + 160, 10, 30_000), []);
        const back = await store.claimDue(T0 + 200, 10, 30_000, shares(10, 100));
        assert.deepEqual(ids(back), [reclaimed.id], 'only the task still waiting comes back');
        assert.deepEqual(await store.claimDue(T0 + 300, 10, 30_000, shares(10, 100)), []);
        assert.equal(must(await store.findTask(a, paused.id), 'paused').state, 'PAUSED');
      });

      test('a task whose lease ran out is claimed whatever the shares: its holder is presumed gone', async () => {
        const a = await project();
        const task = await insertAt(store, a, T0 + 1);
        const [first] = await store.claimDue(T0 + 100, 10, 1_000);
        assert.equal(must(first, 'first claim').id, task.id);
        const again = await store.claimDue(T0 + 1_100, 10, 30_000, shares(1, 1, { [projectGroup(a)]: 1 }));
        assert.deepEqual(ids(again), [task.id], 'claimed again under a new lease, not parked');
      });

      test("a backlog beyond one claim's reading is parked over several claims, and the others are still reached", async () => {
        const a = await project();
        const b = await project();
        for (let i = 0; i < PARK_WINDOW + 40; i++) await insertAt(store, a, T0 + i, { limit: 10 * PARK_WINDOW });
        const victim = await insertAt(store, b, T0 + PARK_WINDOW + 100);
        const found: StoredTask[] = [];
        for (let claim = 0; claim < 3 && found.length === 0; claim++) {
          const claimed = await store.claimDue(T0 + 10 * PARK_WINDOW, 4, 30_000, shares(2, 100, { [projectGroup(a)]: 2 }));
          found.push(...claimed);
        }
        assert.deepEqual(ids(found), [victim.id]);
      });
    });

    describe('renewLeases', () => {
      test('renews only leases whose token matches, and answers how many', async () => {
        const p = await project();
        const a = await insertAt(store, p, T0 + 1_000);
        const b = await insertAt(store, p, T0 + 1_000);
        const claimed = await store.claimDue(T0 + 1_000, 10, 10_000);
        const heldBy = (id: string) => must(leaseOf(claimed.find((t) => t.id === id)), `lease of ${id}`);
        assert.equal(await store.renewLeases([], T0 + 50_000), 0);
        const renewed = await store.renewLeases(
          [
            { id: a.id, token: heldBy(a.id).token },
            { id: b.id, token: `${heldBy(b.id).token}-not-it` },
            { id: subscribeAt(p, T0).task.id, token: heldBy(a.id).token },
          ],
          T0 + 50_000,
        );
        assert.equal(renewed, 1);
        assert.deepEqual(leaseOf(must(await store.findTask(p, a.id), 'a')), { token: heldBy(a.id).token, until: T0 + 50_000 });
        assert.deepEqual(leaseOf(must(await store.findTask(p, b.id), 'b')), heldBy(b.id), 'b is untouched');
      });

      test('a renewed task is due at the new end of its lease, not before', async () => {
        const p = await project();
        const task = await insertAt(store, p, T0 + 1_000);
        const [claimed] = await store.claimDue(T0 + 1_000, 10, 10_000);
        const token = must(leaseOf(claimed), 'lease').token;
        assert.equal(await store.renewLeases([{ id: task.id, token }], T0 + 40_000), 1);
        assert.equal(await store.nextDueAt(), T0 + 40_000);
        assert.deepEqual(await store.claimDue(T0 + 11_000, 10, 10_000), [], 'not due when the old lease would have ended');
        const [again] = await store.claimDue(T0 + 40_000, 10, 10_000);
        assert.equal(must(again, 'claim after renewal').id, task.id);
      });

      test("renewing until now gives the task back: it is due at once (the dispatcher's stop relies on this)", async () => {
        const p = await project();
        const task = await insertAt(store, p, T0 + 1_000);
        const [claimed] = await store.claimDue(T0 + 1_000, 10, 60_000);
        assert.equal(await store.renewLeases([{ id: task.id, token: must(leaseOf(claimed), 'lease').token }], T0 + 2_000), 1);
        assert.equal(await store.nextDueAt(), T0 + 2_000);
        const [again] = await store.claimDue(T0 + 2_000, 10, 60_000);
        assert.equal(must(again, 'claim after give-back').id, task.id);
      });

      test('a paused task keeps its renewed lease and stays not due', async () => {
        const p = await project();
        await insertAt(store, p, T0 + 1_000);
        const [claimed] = await store.claimDue(T0 + 1_000, 10, 10_000);
        const paused = await pause(store, must(claimed, 'claimed'), T0 + 2_000);
        const token = must(leaseOf(paused), 'the lease survives a pause').token;
        assert.equal(await store.renewLeases([{ id: paused.id, token }], T0 + 70_000), 1);
        assert.deepEqual(leaseOf(must(await store.findTask(p, paused.id), 'task')), { token, until: T0 + 70_000 });
        assert.equal(await store.nextDueAt(), null);
        assert.deepEqual(await store.claimDue(T0 + 80_000, 10, 10_000), []);
      });

      test('a canceled task has no lease left to renew', async () => {
        const p = await project();
        await insertAt(store, p, T0 + 1_000);
        const [claimed] = await store.claimDue(T0 + 1_000, 10, 10_000);
        const token = must(leaseOf(claimed), 'lease').token;
        const canceled = await cancel(store, claimed!, T0 + 2_000);
        assert.equal(await store.renewLeases([{ id: canceled.id, token }], T0 + 70_000), 0);
        assert.equal(leaseOf(must(await store.findTask(p, canceled.id), 'task')), null);
        assert.equal(await store.nextDueAt(), null);
      });
    });

    describe('releaseLeases', () => {
      test('gives back only leases still held by the token: those tasks are due at once, and reported', async () => {
        const p = await project();
        const a = await insertAt(store, p, T0 + 100);
        const b = await insertAt(store, p, T0 + 200);
        const claimed = await store.claimDue(T0 + 1_000, 10, 60_000);
        assert.equal(claimed.length, 2);
        const [first, second] = claimed as [StoredTask, StoredTask];
        const heard = nextDueEvent(store, (at) => at === T0 + 100);
        const released = await store.releaseLeases([
          { id: first.id, token: leaseOf(first)!.token },
          { id: second.id, token: 'not-the-token' },
        ]);
        assert.equal(released, 1);
        assert.equal(await heard, T0 + 100);
        assert.equal(leaseOf(await store.findTask(p, a.id)), null);
        assert.notEqual(leaseOf(await store.findTask(p, b.id)), null, 'a lease held by another token stays');
        assert.equal(await store.nextDueAt(), T0 + 100);
        const again = await store.claimDue(T0 + 1_001, 10, 60_000);
        assert.deepEqual(
          again.map((t) => t.id),
          [a.id],
        );
      });
    });

    describe('releaseAllLeases', () => {
      test('leased RUNNING tasks become due at their execAt at once', async () => {
        const p = await project();
        const early = await insertAt(store, p, T0 + 500);
        const late = await insertAt(store, p, T0 + 800);
        const unleased = await insertAt(store, p, T0 + 50_000);
        assert.equal((await store.claimDue(T0 + 1_000, 10, 60_000)).length, 2);
        assert.equal(await store.nextDueAt(), T0 + 50_000);

        assert.equal(await store.releaseAllLeases(), 2);
        assert.equal(await store.nextDueAt(), T0 + 500);
        for (const t of [early, late]) assert.equal(leaseOf(must(await store.findTask(p, t.id), 'task')), null);
        assert.equal(must(await store.findTask(p, unleased.id), 'task').execAt, T0 + 50_000);
        const again = await store.claimDue(T0 + 1_000, 10, 60_000);
        assert.deepEqual(again.map((t) => t.id).sort(), [early.id, late.id].sort());
        assert.equal(await store.releaseAllLeases(), 2, 'the new claims are dropped too');
        assert.equal(await store.releaseAllLeases(), 0, 'nothing left to drop');
      });

      test('a paused task loses its lease and stays not due', async () => {
        const p = await project();
        await insertAt(store, p, T0 + 500);
        const [claimed] = await store.claimDue(T0 + 1_000, 10, 60_000);
        const paused = await pause(store, must(claimed, 'claimed'), T0 + 1_500);
        assert.ok(leaseOf(paused));
        assert.equal(await store.releaseAllLeases(), 1);
        const after = must(await store.findTask(p, paused.id), 'task');
        assert.equal(leaseOf(after), null);
        assert.equal(after.state, 'PAUSED');
        assert.equal(await store.nextDueAt(), null);
      });
    });

    describe('nextDueAt', () => {
      test('is null when nothing is scheduled', async () => {
        assert.equal(await store.nextDueAt(), null);
        await project();
        assert.equal(await store.nextDueAt(), null);
      });

      test('is the earliest due time over every project, a lease counting until it ends', async () => {
        const a = await project();
        const b = await project();
        await insertAt(store, a, T0 + 7_000);
        assert.equal(await store.nextDueAt(), T0 + 7_000);
        await insertAt(store, b, T0 + 3_000);
        await insertAt(store, a, T0 + 5_000);
        assert.equal(await store.nextDueAt(), T0 + 3_000);
        await store.claimDue(T0 + 3_000, 1, 10_000);
        assert.equal(await store.nextDueAt(), T0 + 5_000, 'the claimed one is due at T0 + 13 000 now');
        await store.claimDue(T0 + 7_000, 10, 1_000);
        assert.equal(await store.nextDueAt(), T0 + 8_000);
      });

      test('ignores paused and finished tasks', async () => {
        const p = await project();
        for (const state of ['PAUSED', 'CANCELED', 'COMPLETED', 'ERROR', 'EXCEEDED'] as const) {
          await insertInState(store, p, state, T0 + 1_000);
        }
        assert.equal(await store.nextDueAt(), null);
        await insertAt(store, p, T0 + 90_000);
        assert.equal(await store.nextDueAt(), T0 + 90_000);
      });
    });

    describe('onDue', () => {
      test("an insert reports the new task's due time", async () => {
        const p = await project();
        const heard = nextDueEvent(store, (at) => at === T0 + 4_321);
        await insertAt(store, p, T0 + 4_321);
        assert.equal(await heard, T0 + 4_321);
      });

      test('a replace that makes a task due reports its due time (resume, retry)', async () => {
        const p = await project();
        const paused = await pause(store, await insertAt(store, p, T0 + 5_000, { config: { retry: 1, retryInterval: 1_000 } }), T0 + 1_000);
        const resumed = nextDueEvent(store, (at) => at === T0 + 6_000);
        const running = await step(store, paused, resumeTask(paused, T0 + 2_000)); // 4 000 ms were left
        assert.equal(await resumed, T0 + 6_000);

        const retry = nextDueEvent(store, (at) => at === T0 + 7_000 + 1_000);
        const [claimed] = await store.claimDue(T0 + 7_000, 1, 30_000);
        assert.equal(must(claimed, 'claimed').id, running.id);
        const failed = applyOutcome(claimed!, { ok: false, statusCode: 502 }, T0 + 7_000);
        assert.equal(failed.task.execAt, T0 + 8_000);
        await step(store, claimed!, failed);
        assert.equal(await retry, T0 + 8_000);
      });

      test('releaseAllLeases reports that tasks are due', async () => {
        const p = await project();
        await insertAt(store, p, T0 + 500);
        await insertAt(store, p, T0 + 800);
        await store.claimDue(T0 + 1_000, 10, 60_000);
        const heard = nextDueEvent(store, (at) => at === T0 + 500);
        await store.releaseAllLeases();
        assert.equal(await heard, T0 + 500);
      });

      test('an unsubscribed listener is not called again; others still are', async () => {
        const p = await project();
        const removed: number[] = [];
        const off = store.onDue((at) => removed.push(at));
        const first = nextDueEvent(store, (at) => at === T0 + 1_111);
        await insertAt(store, p, T0 + 1_111);
        await first;
        assert.ok(removed.includes(T0 + 1_111), 'both listeners heard the first write');

        off();
        // Earlier than anything scheduled, so every adapter must report it.
        const second = nextDueEvent(store, (at) => at === T0 + 555);
        await insertAt(store, p, T0 + 555);
        await second; // the write has been reported to the listeners still subscribed
        assert.ok(!removed.includes(T0 + 555), `the removed listener heard ${removed.join(', ')}`);
      });
    });

    describe('heartbeat', () => {
      test('answers null the first time, then the previous record', async () => {
        assert.equal(await store.heartbeat(T0), null);
        assert.equal(await store.heartbeat(T0 + 1_000), T0);
        assert.equal(await store.heartbeat(T0 + 2_500), T0 + 1_000);
      });
    });

    describe('sweepFinished', () => {
      test('deletes tasks finished before the cut-off, with their timelines, and nothing else', async () => {
        const p = await project();
        const gone = [
          await insertInState(store, p, 'CANCELED', T0 + 1_000),
          await insertInState(store, p, 'COMPLETED', T0 + 2_000),
          await insertInState(store, p, 'ERROR', T0 + 2_400),
          await insertInState(store, p, 'EXCEEDED', T0 + 2_499),
        ];
        const kept = [
          await insertInState(store, p, 'CANCELED', T0 + 2_500), // at the cut-off: not before it
          await insertInState(store, p, 'COMPLETED', T0 + 3_000),
          await insertInState(store, p, 'RUNNING', T0 + 1_000),
          await insertInState(store, p, 'PAUSED', T0 + 1_000),
        ];
        assert.deepEqual(await store.sweepFinished(T0 + 2_500, 100), { deleted: gone.length, more: false });
        for (const t of gone) {
          assert.equal(await store.findTask(p, t.id), null, `${t.state} task was deleted`);
          assert.equal(await store.readTimeline(p, t.id), null, `${t.state} timeline was deleted`);
        }
        for (const t of kept) {
          assert.deepEqual(await store.findTask(p, t.id), t, `${t.state} task finished at ${t.endAt} is kept`);
          assert.notEqual(await store.readTimeline(p, t.id), null, `${t.state} timeline is kept`);
        }
        assert.equal(await store.countActive(p), 2);
        assert.deepEqual(await store.sweepFinished(T0 + 2_500, 100), { deleted: 0, more: false }, 'nothing left to sweep');
      });

      test('a step deletes at most `budget` rows: a task and each of its entries count one', async () => {
        const p = await project();
        const finished: StoredTask[] = [];
        for (let i = 0; i < 5; i++) finished.push(await insertInState(store, p, 'COMPLETED', T0 + 100 * (i + 1)));
        const remaining = async () => (await Promise.all(finished.map((t) => store.findTask(p, t.id)))).filter((t) => t !== null).length;
        const cost = 1 + (await timelineOf(must(finished[0], 'a task'))).length;
        const budget = 2 * cost + 1; // two tasks, and not quite a third
        assert.deepEqual(await store.sweepFinished(T0 + 10_000, budget), { deleted: 2, more: true });
        assert.equal(await remaining(), 3);
        assert.deepEqual(await store.sweepFinished(T0 + 10_000, budget), { deleted: 2, more: true });
        assert.equal(await remaining(), 1);
        assert.deepEqual(await store.sweepFinished(T0 + 10_000, budget), { deleted: 1, more: false });
        assert.equal(await remaining(), 0);
      });

      test('a timeline longer than a whole step is deleted over several steps, its task with the last', async () => {
        const p = await project();
        const done = await insertInState(store, p, 'COMPLETED', T0 + 1_000);
        const long = await step(store, done, { task: withoutVersion(done), entries: numbered(1, 45) });
        const length = (await timelineOf(long)).length;
        const steps: SweepStep[] = [];
        for (let more = true; more;) {
          const taken = await store.sweepFinished(T0 + 2_000, 10);
          steps.push(taken);
          more = taken.more;
          if (more) assert.notEqual(await store.findTask(p, long.id), null, 'the task stays until its timeline is gone');
          assert.ok(steps.length <= length, `the sweep makes progress: ${JSON.stringify(steps)}`);
        }
        assert.ok(steps.length >= Math.ceil(length / 10), `${length} entries in steps of 10: ${JSON.stringify(steps)}`);
        assert.deepEqual(
          steps.map((s) => s.deleted),
          [...steps.slice(1).map(() => 0), 1],
        );
        assert.equal(await store.findTask(p, long.id), null);
        assert.equal(await store.readTimeline(p, long.id), null);
      });

      test('never deletes RUNNING or PAUSED tasks, however late the cut-off', async () => {
        const p = await project();
        const running = await insertAt(store, p, T0 + 1_000);
        const paused = await insertInState(store, p, 'PAUSED', T0 + 1_000);
        const [leased] = await store.claimDue(T0 + 1_000, 10, 10_000);
        assert.equal(must(leased, 'claimed').id, running.id);
        assert.deepEqual(await store.sweepFinished(Number.MAX_SAFE_INTEGER, 100), { deleted: 0, more: false });
        assert.deepEqual(await store.findTask(p, running.id), leased);
        assert.deepEqual(await store.findTask(p, paused.id), paused);
        assert.equal(await store.countActive(p), 2);
      });
    });

    describe('inbox', () => {
      const record = (at: number, text: string) => ({ id: newId(at), sealed: Buffer.from(text) });
      const plain = (records: readonly { id: string; sealed: Uint8Array }[]) =>
        records.map((r) => ({ id: r.id, text: Buffer.from(r.sealed).toString() }));

      test('keeps the requests newest first, their bytes as given', async () => {
        const p = await project();
        assert.deepEqual(await store.readInbox(p), []);
        const first = record(T0, 'first');
        const second = record(T0 + 1, 'second\u0000\u00ff');
        await store.pushInbox(p, first, 100);
        await store.pushInbox(p, second, 100);
        assert.deepEqual(plain(await store.readInbox(p)), plain([second, first]));
      });

      test('past `keep` requests the oldest are dropped', async () => {
        const p = await project();
        const records = Array.from({ length: 7 }, (_, i) => record(T0 + i, `r${i}`));
        for (const r of records) await store.pushInbox(p, r, 5);
        assert.deepEqual(plain(await store.readInbox(p)), plain(records.slice(2).reverse()));
      });

      test("projects' inboxes are apart, and clearing one leaves the others", async () => {
        const [a, b] = [await project(), await project()];
        await Promise.all([store.pushInbox(a, record(T0, 'a'), 100), store.pushInbox(b, record(T0, 'b'), 100)]);
        assert.deepEqual(
          plain(await store.readInbox(a)).map((r) => r.text),
          ['a'],
        );
        await store.clearInbox(a);
        assert.deepEqual(await store.readInbox(a), []);
        assert.deepEqual(
          plain(await store.readInbox(b)).map((r) => r.text),
          ['b'],
        );
      });
    });

    describe('activity', () => {
      const MINUTE = 60_000;
      /** The start of the current minute by the store's clock: counts older than ACTIVITY_KEEP_MS may be dropped. */
      const thisMinute = () => Math.floor(store.clock.now() / MINUTE) * MINUTE;

      test('adds are summed per project and minute, as several servers flush theirs', async () => {
        const [a, b] = [await project(), await project()];
        const m = thisMinute() - 10 * MINUTE;
        await store.addActivity([
          { projectId: a, minute: m, delivered: 2, failed: 1 },
          { projectId: b, minute: m, delivered: 5, failed: 0 },
        ]);
        await Promise.all([
          store.addActivity([{ projectId: a, minute: m, delivered: 3, failed: 0 }]),
          store.addActivity([{ projectId: a, minute: m + MINUTE, delivered: 0, failed: 4 }]),
        ]);
        assert.deepEqual(await store.readActivity(a, m, m + 2 * MINUTE), [
          { projectId: a, minute: m, delivered: 5, failed: 1 },
          { projectId: a, minute: m + MINUTE, delivered: 0, failed: 4 },
        ]);
        assert.deepEqual(await store.readActivity(b, m, m + 2 * MINUTE), [{ projectId: b, minute: m, delivered: 5, failed: 0 }]);
      });

      test('reads the minutes in [from, to), oldest first, leaving out those with none', async () => {
        const p = await project();
        const m = thisMinute() - 60 * MINUTE;
        await store.addActivity([
          { projectId: p, minute: m - MINUTE, delivered: 1, failed: 0 },
          { projectId: p, minute: m + 5 * MINUTE, delivered: 0, failed: 2 },
          { projectId: p, minute: m, delivered: 7, failed: 0 },
          { projectId: p, minute: m + 60 * MINUTE, delivered: 1, failed: 1 },
        ]);
        assert.deepEqual(
          (await store.readActivity(p, m, m + 60 * MINUTE)).map((c) => [c.minute - m, c.delivered, c.failed]),
          [
            [0, 7, 0],
            [5 * MINUTE, 0, 2],
          ],
        );
        assert.deepEqual(await store.readActivity(p, m + 10 * MINUTE, m + 20 * MINUTE), []);
      });
    });
  });
}
