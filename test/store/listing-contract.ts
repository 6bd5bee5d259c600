import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { newId } from '../../src/core/ids.js';
import { LIST_SCAN, type StoredTask, type TaskQuery, type TaskStore } from '../../src/store/task-store.js';
import { T0, cancel, insertAt, insertInState, pause, subscribeAt, succeed } from './fixtures.js';

/**
 * TaskStore.listTasks, part of the contract suite (conformance.ts): what a listing answers, its
 * keyset pages, every filter alone and together, and how it follows writes. Runs on every adapter.
 */
export function describeListingContract(
  test: (name: string, fn: () => Promise<void>) => void,
  storeOf: () => TaskStore,
  project: () => Promise<string>,
): void {
  /** Every page of a listing, followed by its `next`, as ids; with the size of each page. */
  async function allPages(projectId: string, query: Omit<TaskQuery, 'limit'>, limit: number): Promise<{ ids: string[]; sizes: number[] }> {
    const ids: string[] = [];
    const sizes: number[] = [];
    let below: string | undefined = query.below;
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 10_000, 'the listing ends');
      const page = await storeOf().listTasks(projectId, { ...query, limit, ...(below === undefined ? {} : { below }) });
      assert.ok(page.tasks.length <= limit, `a page holds at most ${limit}`);
      ids.push(...page.tasks.map((t) => t.id));
      sizes.push(page.tasks.length);
      if (page.next === null) break;
      below = page.next;
    }
    return { ids, sizes };
  }
  const newestFirst = (tasks: readonly StoredTask[]): string[] => tasks.map((t) => t.id).sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));

  describe('listTasks', () => {
    test("answers the project's tasks whole, newest first, and no other project's", async () => {
      const p = await project();
      const other = await project();
      const tasks = [];
      for (let i = 0; i < 7; i++) tasks.push(await insertAt(storeOf(), p, T0 + 1_000 + i, { tags: ['x'], hostTag: 'h' }));
      await insertAt(storeOf(), other, T0 + 1_000, { tags: ['x'], hostTag: 'h' });
      const page = await storeOf().listTasks(p, { limit: 100 });
      assert.deepEqual(
        page.tasks.map((t) => t.id),
        newestFirst(tasks),
      );
      assert.equal(page.next, null);
      const byId = new Map(tasks.map((t) => [t.id, t]));
      for (const listed of page.tasks) assert.deepEqual(listed, byId.get(listed.id), 'as findTask answers it');
      assert.deepEqual((await storeOf().listTasks(p, { limit: 100, tag: 'x', hostTag: 'h' })).tasks.length, 7);
      assert.deepEqual(await storeOf().listTasks(newId(T0), { limit: 100 }), { tasks: [], next: null });
    });

    test('pages: each task once, in order, `limit` a page, next null at the end', async () => {
      const p = await project();
      const tasks = [];
      for (let i = 0; i < 11; i++) tasks.push(await insertAt(storeOf(), p, T0 + 1_000));
      for (const limit of [1, 3, 5, 11, 12]) {
        const { ids, sizes } = await allPages(p, {}, limit);
        assert.deepEqual(ids, newestFirst(tasks), `limit ${limit}`);
        assert.ok(
          sizes.slice(0, -1).every((n) => n === limit),
          `full pages but the last: ${JSON.stringify(sizes)}`,
        );
      }
    });

    test('ids bound the range: below (exclusive) and atLeast (inclusive)', async () => {
      const p = await project();
      const tasks = [];
      for (let i = 0; i < 6; i++) tasks.push(await insertAt(storeOf(), p, T0 + 1_000));
      const ids = newestFirst(tasks);
      const page = await storeOf().listTasks(p, { limit: 100, below: ids[1], atLeast: ids[4] });
      assert.deepEqual(
        page.tasks.map((t) => t.id),
        ids.slice(2, 5),
      );
    });

    test('filters: states, tag, host, next execution range; together they all hold', async () => {
      const p = await project();
      const running = await insertAt(storeOf(), p, T0 + 5_000, { tags: ['blue', 'red'], hostTag: 'h1' });
      const paused = await pause(storeOf(), await insertAt(storeOf(), p, T0 + 6_000, { tags: ['blue'], hostTag: 'h2' }), T0);
      const canceled = await cancel(storeOf(), await insertAt(storeOf(), p, T0 + 7_000, { tags: ['red'], hostTag: 'h1' }), T0);
      const completed = await insertInState(storeOf(), p, 'COMPLETED', T0 + 100);
      const later = await insertAt(storeOf(), p, T0 + 9_000, { hostTag: 'h1' });
      const list = async (query: Omit<TaskQuery, 'limit'>): Promise<string[]> => (await allPages(p, query, 2)).ids.slice().sort();
      const ids = (...tasks: StoredTask[]): string[] => tasks.map((t) => t.id).sort();

      assert.deepEqual(await list({ states: ['RUNNING'] }), ids(running, later));
      assert.deepEqual(await list({ states: ['PAUSED', 'CANCELED', 'COMPLETED'] }), ids(paused, canceled, completed));
      assert.deepEqual(await list({ states: ['ERROR'] }), []);
      assert.deepEqual(await list({ tag: 'blue' }), ids(running, paused));
      assert.deepEqual(await list({ tag: 'red' }), ids(running, canceled));
      assert.deepEqual(await list({ tag: 'bl' }), [], 'a tag matches whole');
      assert.deepEqual(await list({ hostTag: 'h1' }), ids(running, canceled, later));
      assert.deepEqual(
        await list({ nextFrom: T0 + 5_000, nextTo: T0 + 9_000 }),
        ids(running),
        'from inclusive, to exclusive; none for paused',
      );
      assert.deepEqual(await list({ nextTo: T0 + 10_000 }), ids(running, later), 'a task with no next execution never matches');
      assert.deepEqual(await list({ tag: 'red', states: ['CANCELED'] }), ids(canceled));
      assert.deepEqual(await list({ tag: 'red', hostTag: 'h1', states: ['RUNNING', 'PAUSED'] }), ids(running));
      assert.deepEqual(await list({ hostTag: 'h1', states: ['RUNNING'], nextFrom: T0 + 6_000 }), ids(later));
      // Newest first within a merge of several states, too.
      const merged = await storeOf().listTasks(p, { limit: 100, states: ['RUNNING', 'PAUSED', 'CANCELED'] });
      assert.deepEqual(
        merged.tasks.map((t) => t.id),
        newestFirst([running, paused, canceled, later]),
      );
    });

    test('filters: a schedule (its runs) and a flow key, alone, together and with the others; every page from a cursor', async () => {
      const p = await project();
      const other = await project();
      const schedule = newId(T0);
      const run1 = await insertAt(storeOf(), p, T0 + 1_000, { scheduleId: schedule, flowKey: 'nightly', tags: ['a'] });
      const run2 = await succeed(storeOf(), await insertAt(storeOf(), p, T0 + 2_000, { scheduleId: schedule, hostTag: 'h1' }), T0 + 2_000);
      const run3 = await insertAt(storeOf(), p, T0 + 3_000, { scheduleId: schedule, flowKey: 'nightly', hostTag: 'h1' });
      const keyed = await insertAt(storeOf(), p, T0 + 4_000, { flowKey: 'nightly', tags: ['a'] });
      const otherKey = await insertAt(storeOf(), p, T0 + 5_000, { flowKey: 'nightly.2', scheduleId: newId(T0) });
      await insertAt(storeOf(), p, T0 + 6_000, { tags: ['a'], hostTag: 'h1' });
      await insertAt(storeOf(), other, T0 + 1_000, { scheduleId: schedule, flowKey: 'nightly' });
      const list = async (query: Omit<TaskQuery, 'limit'>): Promise<string[]> => (await allPages(p, query, 1)).ids;

      assert.deepEqual(await list({ scheduleId: schedule }), newestFirst([run1, run2, run3]), "the schedule's runs, one a page");
      assert.deepEqual(await list({ flowKey: 'nightly' }), newestFirst([run1, run3, keyed]), 'a flow key matches whole');
      assert.deepEqual(await list({ flowKey: 'nightly.2' }), [otherKey.id]);
      assert.deepEqual(await list({ scheduleId: newId(T0) }), [], 'a schedule with no runs');
      assert.deepEqual(await list({ scheduleId: schedule, flowKey: 'nightly' }), newestFirst([run1, run3]));
      assert.deepEqual(await list({ scheduleId: schedule, states: ['COMPLETED'] }), [run2.id]);
      assert.deepEqual(await list({ scheduleId: schedule, states: ['RUNNING'] }), newestFirst([run1, run3]));
      assert.deepEqual(await list({ scheduleId: schedule, tag: 'a' }), [run1.id]);
      assert.deepEqual(await list({ flowKey: 'nightly', tag: 'a' }), newestFirst([run1, keyed]));
      assert.deepEqual(await list({ flowKey: 'nightly', hostTag: 'h1' }), [run3.id]);
      assert.deepEqual(
        await list({ scheduleId: schedule, hostTag: 'h1', nextFrom: T0 }),
        [run3.id],
        'a finished run has no next execution',
      );
      const [newest] = newestFirst([run1, run2, run3]);
      assert.deepEqual(await list({ scheduleId: schedule, below: newest }), newestFirst([run1, run2, run3]).slice(1), 'from a cursor on');
    });

    test('follows writes: a new state moves a task between state filters; a deleted task leaves every listing', async () => {
      const p = await project();
      const schedule = newId(T0);
      const task = await insertAt(storeOf(), p, T0 + 1_000, { tags: ['t'], hostTag: 'h', scheduleId: schedule, flowKey: 'f' });
      const done = await succeed(storeOf(), task, T0 + 1_000);
      assert.deepEqual(await allPages(p, { states: ['RUNNING'] }, 10), { ids: [], sizes: [0] });
      assert.deepEqual((await allPages(p, { states: ['COMPLETED'] }, 10)).ids, [task.id]);
      assert.equal(await storeOf().deleteTask(done), true);
      for (const query of [
        {},
        { states: ['COMPLETED' as const] },
        { tag: 't' },
        { hostTag: 'h' },
        { scheduleId: schedule },
        { flowKey: 'f' },
      ]) {
        assert.deepEqual((await allPages(p, query, 10)).ids, [], JSON.stringify(query));
      }
    });

    test('a filter no index covers reads at most LIST_SCAN candidates a page: short pages with a next, every match once', async () => {
      const p = await project();
      // The oldest task (an id of an earlier millisecond) is the only one with a next execution this late.
      const { task } = subscribeAt(p, T0 + 900_000);
      const match = { ...task, id: newId(T0 - 1) };
      await storeOf().insertTask(match, [], 100_000);
      const others: Promise<StoredTask>[] = [];
      for (let i = 0; i < LIST_SCAN + 5; i++) others.push(insertAt(storeOf(), p, T0 + 1_000, { limit: 100_000 }));
      await Promise.all(others);
      const { ids, sizes } = await allPages(p, { nextFrom: T0 + 500_000 }, 10);
      assert.deepEqual(ids, [match.id]);
      assert.equal(sizes[0], 0, `the first page stops after LIST_SCAN candidates, short, with a next: ${JSON.stringify(sizes)}`);
      assert.equal(sizes.at(-1), 1);
    });
  });
}
