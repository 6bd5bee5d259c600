import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { newId } from '../../src/core/ids.js';
import { type Schedule, type StoredSchedule, afterStep, pauseSchedule } from '../../src/core/schedule.js';
import { DEFAULT_CONFIG } from '../../src/core/subscription.js';
import type { TaskStore } from '../../src/store/task-store.js';
import { must } from '../helpers/must.js';
import { T0, newProject, subscribeAt } from './fixtures.js';

/** A project's most schedules in these tests but the one about the limit. */
const SCHEDULE_LIMIT = 1_000;

/** A schedule due at `nextRunAt`, with every field unlike a default, so a field an adapter drops shows. */
function newSchedule(projectId: string, nextRunAt: number, fields: Partial<Schedule> = {}): Schedule {
  return {
    id: newId(T0),
    projectId,
    cron: '*/5 * * * * *',
    timezone: 'Europe/Berlin',
    config: { ...DEFAULT_CONFIG, retry: 3, timeout: 9_000, callback: { url: 'https://example.com/cb', on: ['failure'] } },
    request: Buffer.concat([Buffer.of(2, 0, 0xff, 0x0a), Buffer.from('sealed schedule request')]),
    hostTag: 'host-tag',
    tags: ['nightly', 'a:b'],
    flowKey: 'payments',
    overlap: 'skip',
    catchUp: 'all',
    jitterMs: 250,
    startAt: T0 - 10,
    endAt: T0 + 10_000_000,
    createdAt: T0,
    state: 'ACTIVE',
    nextRunAt,
    lastRunAt: 0,
    lastTaskId: '',
    runs: 0,
    skipped: 0,
    ...fields,
  };
}

const plain = (schedule: StoredSchedule | null): Omit<StoredSchedule, 'request'> & { request: string } => {
  const found = must(schedule, 'a schedule');
  return { ...found, request: Buffer.from(found.request).toString('hex') };
};

/** The schedule operations of the TaskStore contract, run unchanged on each adapter. */
export function describeScheduleContract(name: string, open: () => Promise<{ store: TaskStore; cleanup: () => Promise<void> }>): void {
  describe(`TaskStore contract, schedules: ${name}`, () => {
    let store: TaskStore;
    let cleanup: (() => Promise<void>) | null = null;
    beforeEach(async () => {
      ({ store, cleanup } = await open());
    });
    afterEach(async () => {
      await cleanup?.();
      cleanup = null;
    });

    async function project(): Promise<string> {
      const p = newProject();
      await store.insertProject(p);
      return p.id;
    }

    test('insertSchedule then findSchedule answers every field as written, at version 1; other projects see nothing', async () => {
      const owner = await project();
      const other = await project();
      const schedule = newSchedule(owner, T0 + 5_000);
      await store.insertSchedule(schedule, SCHEDULE_LIMIT);
      const found = await store.findSchedule(owner, schedule.id);
      assert.deepEqual(plain(found), plain({ ...schedule, version: 1 }));
      assert.equal(await store.findSchedule(other, schedule.id), null);
      assert.equal(await store.findSchedule(owner, newId(T0)), null);
    });

    test('insertSchedule writes nothing and answers false once the project holds its limit; deleting one makes room', async () => {
      const owner = await project();
      const other = await project();
      const held = [newSchedule(owner, T0 + 5_000), newSchedule(owner, T0 + 6_000)];
      for (const schedule of held) assert.equal(await store.insertSchedule(schedule, 2), true);
      const refused = newSchedule(owner, T0 + 7_000);
      assert.equal(await store.insertSchedule(refused, 2), false);
      assert.equal(await store.findSchedule(owner, refused.id), null, 'nothing written');
      assert.equal(await store.insertSchedule(newSchedule(other, T0 + 7_000), 2), true, 'another project counts its own');
      assert.equal(await store.deleteSchedule(must(await store.findSchedule(owner, held[0]!.id), 'a schedule')), true);
      assert.equal(await store.insertSchedule(refused, 2), true);
      assert.equal((await store.listSchedules(owner, { limit: 10 })).schedules.length, 2);
    });

    test('listSchedules pages newest first, and only the project’s own', async () => {
      const owner = await project();
      const other = await project();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const s = newSchedule(owner, T0 + 5_000, { id: newId(T0 + i) });
        await store.insertSchedule(s, SCHEDULE_LIMIT);
        ids.push(s.id);
      }
      await store.insertSchedule(newSchedule(other, T0 + 5_000), SCHEDULE_LIMIT);
      const first = await store.listSchedules(owner, { limit: 3 });
      assert.deepEqual(
        first.schedules.map((s) => s.id),
        ids.slice(2).reverse(),
      );
      const second = await store.listSchedules(owner, { limit: 3, below: must(first.next, 'a next page') });
      assert.deepEqual(
        second.schedules.map((s) => s.id),
        ids.slice(0, 2).reverse(),
      );
      assert.equal(second.next, null);
    });

    test('replaceSchedule and deleteSchedule are compare-and-set on the version; a paused schedule is not due', async () => {
      const owner = await project();
      const schedule = newSchedule(owner, T0 + 5_000);
      await store.insertSchedule(schedule, SCHEDULE_LIMIT);
      const v1 = must(await store.findSchedule(owner, schedule.id), 'v1');
      assert.deepEqual(
        (await store.dueSchedules(T0 + 5_000, 10)).map((s) => s.id),
        [schedule.id],
      );
      assert.ok(await store.replaceSchedule(v1, pauseSchedule(v1)));
      assert.equal(await store.replaceSchedule(v1, v1), false, 'the version it read is gone');
      assert.deepEqual(await store.dueSchedules(T0 + 1_000_000, 10), []);
      assert.equal(await store.nextScheduleAfter(0), null);
      const v2 = must(await store.findSchedule(owner, schedule.id), 'v2');
      assert.equal(v2.version, 2);
      assert.equal(v2.state, 'PAUSED');
      assert.equal(await store.deleteSchedule(v1), false);
      assert.ok(await store.deleteSchedule(v2));
      assert.equal(await store.findSchedule(owner, schedule.id), null);
      assert.deepEqual((await store.listSchedules(owner, { limit: 10 })).schedules, []);
    });

    test('dueSchedules answers the due ones earliest first, of every project; nextScheduleAfter the next one', async () => {
      const a = await project();
      const b = await project();
      const late = newSchedule(a, T0 + 9_000);
      const early = newSchedule(b, T0 + 3_000);
      const later = newSchedule(b, T0 + 20_000);
      for (const s of [late, early, later]) await store.insertSchedule(s, SCHEDULE_LIMIT);
      assert.deepEqual(
        (await store.dueSchedules(T0 + 10_000, 10)).map((s) => s.id),
        [early.id, late.id],
      );
      assert.deepEqual(
        (await store.dueSchedules(T0 + 10_000, 1)).map((s) => s.id),
        [early.id],
      );
      assert.equal(await store.nextScheduleAfter(T0 + 3_000), T0 + 9_000);
      assert.equal(await store.nextScheduleAfter(T0 + 20_000), null);
    });

    test('makeRun stores the task (linked to its schedule, with its entries) and the schedule in one write', async () => {
      const owner = await project();
      const schedule = newSchedule(owner, T0 + 5_000);
      await store.insertSchedule(schedule, SCHEDULE_LIMIT);
      const read = must(await store.findSchedule(owner, schedule.id), 'read');
      const { task } = subscribeAt(owner, T0 + 5_000);
      const run = { ...task, scheduleId: schedule.id };
      const next = afterStep(read, { kind: 'run', instant: T0 + 5_000, next: T0 + 10_000 }, run.id);
      const entry = {
        label: 'Schedule' as const,
        description: 'run',
        createdAt: T0,
        metadata: { scheduleId: schedule.id, instant: T0 + 5_000 },
      };
      assert.equal(await store.makeRun(read, next, run, [entry], 10), 'DONE');
      const stored = must(await store.findTask(owner, run.id), 'the run task');
      assert.equal(stored.scheduleId, schedule.id);
      assert.deepEqual(must(await store.readTimeline(owner, run.id), 'timeline').entries, [entry]);
      const after = must(await store.findSchedule(owner, schedule.id), 'after');
      assert.equal(after.version, 2);
      assert.equal(after.runs, 1);
      assert.equal(after.lastTaskId, run.id);
      assert.equal(after.nextRunAt, T0 + 10_000);
      assert.deepEqual(await store.dueSchedules(T0 + 9_999, 10), [], 'due again at its next run');
      assert.equal(await store.countActive(owner), 1, 'the run counts against the queue');
    });

    test('makeRun from a version already moved on writes nothing (MOVED): of two writers that read one version, one makes the run', async () => {
      const owner = await project();
      const schedule = newSchedule(owner, T0 + 5_000);
      await store.insertSchedule(schedule, SCHEDULE_LIMIT);
      const read = must(await store.findSchedule(owner, schedule.id), 'read');
      const runs = [0, 1, 2].map(() => ({ ...subscribeAt(owner, T0 + 5_000).task, scheduleId: schedule.id }));
      const results = await Promise.all(
        runs.map((task) =>
          store.makeRun(read, afterStep(read, { kind: 'run', instant: T0 + 5_000, next: T0 + 10_000 }, task.id), task, [], 10),
        ),
      );
      assert.deepEqual([...results].sort(), ['DONE', 'MOVED', 'MOVED']);
      const stored = await Promise.all(runs.map((task) => store.findTask(owner, task.id)));
      assert.equal(stored.filter((t) => t !== null).length, 1);
      assert.equal(await store.countActive(owner), 1);
      assert.equal(must(await store.findSchedule(owner, schedule.id), 'after').runs, 1);
    });

    test('makeRun into a full queue writes nothing (QUEUE_FULL)', async () => {
      const owner = await project();
      const schedule = newSchedule(owner, T0 + 5_000);
      await store.insertSchedule(schedule, SCHEDULE_LIMIT);
      const { task: filler } = subscribeAt(owner, T0 + 60_000);
      await store.insertTask(filler, [], 1);
      const read = must(await store.findSchedule(owner, schedule.id), 'read');
      const run = { ...subscribeAt(owner, T0 + 5_000).task, scheduleId: schedule.id };
      const next = afterStep(read, { kind: 'run', instant: T0 + 5_000, next: T0 + 10_000 }, run.id);
      assert.equal(await store.makeRun(read, next, run, [], 1), 'QUEUE_FULL');
      assert.equal(await store.findTask(owner, run.id), null);
      assert.deepEqual(plain(await store.findSchedule(owner, schedule.id)), plain(read));
    });
  });
}
