import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { FlowSettings } from '../../src/core/flow.js';
import type { ClaimShares, StoredTask, TaskStore } from '../../src/store/task-store.js';
import { must } from '../helpers/must.js';
import { fail, insertAt, succeed } from './fixtures.js';

/**
 * Flow control in the TaskStore contract (conformance.ts): claimDue under a key's rate,
 * parallelism, order and pause (core/flow.ts), the tasks held back waiting unchanged, and the
 * limits' own reads and writes. Runs on every adapter. Times are the store's own (readFlow counts
 * leases against its clock), passed to claims as numbers.
 */
export function describeFlowContract(
  test: (name: string, fn: () => Promise<void>) => void,
  storeOf: () => TaskStore,
  project: () => Promise<string>,
): void {
  const LEASE = 60_000;
  const ids = (tasks: readonly StoredTask[]): string[] => tasks.map((t) => t.id);
  const limits = (settings: Partial<FlowSettings>): FlowSettings => ({ rate: null, parallelism: null, ordered: false, ...settings });
  /** Inserts `count` tasks of the key due at base + 1, base + 2, ... in that order. */
  async function keyed(store: TaskStore, projectId: string, base: number, count: number, flowKey = 'k'): Promise<StoredTask[]> {
    const tasks: StoredTask[] = [];
    for (let i = 1; i <= count; i++) tasks.push(await insertAt(store, projectId, base + i, { flowKey }));
    return tasks;
  }

  describe('claimDue under flow control', () => {
    test('a rate lets at most its limit start in any window of its period; the others wait unchanged', async () => {
      const store = storeOf();
      const p = await project();
      const base = store.clock.now();
      // Starts spaced 100 ms apart (the pace), at most 5 in any 500 ms (the window).
      assert.equal(await store.putFlow(p, 'k', limits({ rate: { limit: 5, periodMs: 500 } })), true);
      const tasks = await keyed(store, p, base, 8);
      const free = await insertAt(store, p, base + 10);
      const first = await store.claimDue(base + 100, 20, LEASE);
      assert.deepEqual(ids(first), [tasks[0]!.id, free.id], 'one of the key (an idle key starts no burst), and the task without one');
      for (const waiting of tasks.slice(1)) assert.deepEqual(await store.findTask(p, waiting.id), waiting, 'a waiting task is unchanged');
      assert.equal(await store.nextDueAt(), base + 200, 'looked at again when the pace allows the next');
      assert.deepEqual(await store.claimDue(base + 199, 20, LEASE), []);
      assert.deepEqual(ids(await store.claimDue(base + 200, 20, LEASE)), [tasks[1]!.id]);
      // A claim that comes late catches up what it missed (300, 400, 500), as the window allows.
      assert.deepEqual(ids(await store.claimDue(base + 520, 20, LEASE)), ids(tasks.slice(2, 5)));
      assert.deepEqual(ids(await store.claimDue(base + 600, 20, LEASE)), [tasks[5]!.id]);
      assert.deepEqual(ids(await store.claimDue(base + 700, 20, LEASE)), [tasks[6]!.id]);
      // The pace allows one at 800, but the window (after 300) holds five starts: 520 (three), 600, 700.
      assert.deepEqual(await store.claimDue(base + 800, 20, LEASE), []);
      assert.equal(await store.nextDueAt(), base + 1_020, 'when the starts at 520 leave the window');
      assert.deepEqual(ids(await store.claimDue(base + 1_020, 20, LEASE)), [tasks[7]!.id]);
      const status = must(await store.readFlow(p, 'k'), 'status');
      assert.deepEqual(
        { ...status, inFlight: undefined },
        {
          key: 'k',
          rate: { limit: 5, periodMs: 500 },
          parallelism: null,
          ordered: false,
          paused: false,
          inFlight: undefined,
          waiting: 0,
        },
      );
    });

    test('parallelism: at most N of the key hold a lease; an outcome frees a place at once', async () => {
      const store = storeOf();
      const p = await project();
      const base = store.clock.now();
      await store.putFlow(p, 'k', limits({ parallelism: 2 }));
      const tasks = await keyed(store, p, base, 4);
      const first = await store.claimDue(base + 100, 10, LEASE);
      assert.deepEqual(ids(first), ids(tasks.slice(0, 2)));
      assert.deepEqual(await store.claimDue(base + 110, 10, LEASE), []);
      assert.equal(must(await store.readFlow(p, 'k'), 'status').inFlight, 2);
      assert.equal(must(await store.readFlow(p, 'k'), 'status').waiting, 2);
      await succeed(store, must(first[0], 'first'), base + 200);
      assert.ok(must(await store.nextDueAt(), 'next') <= base + 200, 'the key is looked at at once');
      assert.deepEqual(ids(await store.claimDue(base + 200, 10, LEASE)), [tasks[2]!.id]);
      assert.deepEqual(await store.claimDue(base + 210, 10, LEASE), []);
    });

    test("a lease that ended stops counting: a vanished claimer's tasks free their places", async () => {
      const store = storeOf();
      const p = await project();
      const base = store.clock.now();
      await store.putFlow(p, 'k', limits({ parallelism: 2 }));
      const tasks = await keyed(store, p, base, 4);
      // Claimed by a claimer that vanishes: its leases end at base + 1_100.
      assert.deepEqual(ids(await store.claimDue(base + 100, 10, 1_000)), ids(tasks.slice(0, 2)));
      assert.deepEqual(await store.claimDue(base + 500, 10, LEASE), []);
      assert.ok(must(await store.nextDueAt(), 'next') <= base + 1_100);
      const next = await store.claimDue(base + 1_200, 2, LEASE);
      assert.deepEqual(ids(next), ids(tasks.slice(2)), 'the two that waited go first');
      // Those whose lease ran out need room too: they wait until a place frees.
      assert.deepEqual(await store.claimDue(base + 1_300, 10, LEASE), []);
      await succeed(store, must(next[0], 'next'), base + 1_400);
      await succeed(store, must(next[1], 'next'), base + 1_400);
      const at = Math.max(base + 1_400, must(await store.nextDueAt(), 'next'));
      const reclaimed = ids(await store.claimDue(at, 10, LEASE)).sort();
      assert.deepEqual(reclaimed, ids(tasks.slice(0, 2)).sort(), 'then those whose lease ran out');
    });

    test('ordered: one at a time in subscription order, and a retrying head blocks the key', async () => {
      const store = storeOf();
      const p = await project();
      const base = store.clock.now();
      await store.putFlow(p, 'k', limits({ ordered: true }));
      const head = await insertAt(store, p, base + 50, { flowKey: 'k', config: { retry: 1, retryInterval: 1_000 } });
      const [second, third] = await keyed(store, p, base, 2);
      assert.deepEqual(await store.claimDue(base + 10, 10, LEASE), [], 'the head is not due yet: nothing after it starts');
      assert.equal(await store.nextDueAt(), base + 50);
      const [claimed] = await store.claimDue(base + 60, 10, LEASE);
      assert.equal(must(claimed, 'head').id, head.id);
      assert.deepEqual(await store.claimDue(base + 70, 10, LEASE), []);
      const retrying = await fail(store, must(claimed, 'head'), base + 80);
      assert.equal(retrying.state, 'RUNNING');
      assert.deepEqual(await store.claimDue(base + 100, 10, LEASE), [], 'the head retries later: the key waits for it');
      const [again] = await store.claimDue(retrying.execAt, 10, LEASE);
      assert.equal(must(again, 'head again').id, head.id);
      await succeed(store, must(again, 'head again'), retrying.execAt + 10);
      const [next] = await store.claimDue(retrying.execAt + 20, 10, LEASE);
      assert.equal(must(next, 'second').id, second!.id);
      assert.deepEqual(await store.claimDue(retrying.execAt + 30, 10, LEASE), []);
      await succeed(store, must(next, 'second'), retrying.execAt + 40);
      assert.deepEqual(ids(await store.claimDue(retrying.execAt + 50, 10, LEASE)), [third!.id]);
    });

    test('a paused key starts nothing until resumed; its tasks wait unchanged', async () => {
      const store = storeOf();
      const p = await project();
      const base = store.clock.now();
      assert.equal(await store.pauseFlow(p, 'k', false), false, 'a key with no limits is not resumed');
      assert.equal(await store.pauseFlow(p, 'k', true), true);
      const tasks = await keyed(store, p, base, 2);
      const free = await insertAt(store, p, base + 5);
      assert.deepEqual(ids(await store.claimDue(base + 100, 10, LEASE)), [free.id]);
      const status = must(await store.readFlow(p, 'k'), 'status');
      assert.deepEqual([status.paused, status.waiting, status.rate, status.parallelism], [true, 2, null, null]);
      assert.equal(await store.nextDueAt(), base + 100 + LEASE, 'a paused key is not looked at');
      assert.equal(await store.pauseFlow(p, 'k', true), true);
      assert.equal(await store.pauseFlow(p, 'k', false), true);
      assert.ok(must(await store.nextDueAt(), 'next') <= base + 200, 'resuming makes its tasks due');
      assert.deepEqual(ids(await store.claimDue(base + 200, 10, LEASE)), ids(tasks));
    });

    test("limits removed: the key's tasks flow freely; a key is its project's alone", async () => {
      const store = storeOf();
      const p = await project();
      const q = await project();
      const base = store.clock.now();
      await store.putFlow(p, 'k', limits({ parallelism: 1 }));
      const mine = await keyed(store, p, base, 3);
      const theirs = await keyed(store, q, base + 10, 2);
      assert.deepEqual(ids(await store.claimDue(base + 100, 10, LEASE)), [mine[0]!.id, ...ids(theirs)]);
      assert.equal(await store.readFlow(q, 'k'), null);
      assert.equal(await store.deleteFlow(p, 'k'), true);
      assert.equal(await store.deleteFlow(p, 'k'), false);
      assert.deepEqual(ids(await store.claimDue(base + 200, 10, LEASE)), ids(mine.slice(1)));
      assert.deepEqual(await store.listFlows(p), []);
    });

    test('a claim under shares keeps to the key too', async () => {
      const store = storeOf();
      const p = await project();
      const base = store.clock.now();
      await store.putFlow(p, 'k', limits({ parallelism: 1 }));
      const tasks = await keyed(store, p, base, 3);
      const shares: ClaimShares = { perProject: 100, perHost: 100, held: new Map() };
      assert.deepEqual(ids(await store.claimDue(base + 100, 10, LEASE, shares)), [tasks[0]!.id]);
      assert.deepEqual(await store.claimDue(base + 110, 10, LEASE, shares), []);
    });

    test('putFlow changes limits in place; listFlows answers the project keys by key', async () => {
      const store = storeOf();
      const p = await project();
      await store.putFlow(p, 'b', limits({ ordered: true }));
      await store.putFlow(p, 'a', limits({ rate: { limit: 5, periodMs: 1_000 }, parallelism: 2 }));
      await store.pauseFlow(p, 'a', true);
      await store.putFlow(p, 'a', limits({ parallelism: 3 }));
      const listed = await store.listFlows(p);
      assert.deepEqual(
        listed.map((f) => [f.key, f.rate, f.parallelism, f.ordered, f.paused, f.inFlight, f.waiting]),
        [
          ['a', null, 3, false, true, 0, 0],
          ['b', null, null, true, false, 0, 0],
        ],
        'a new setting keeps the pause',
      );
      assert.deepEqual(await store.listFlows(await project()), []);
    });
  });
}
