import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type BreakerPolicy, type Circuit, admit, afterResult, newCircuit, resultOf } from '../../src/core/circuit.js';
import { TestClock } from '../../src/core/clock.js';
import { DEFAULT_CONFIG } from '../../src/core/subscription.js';
import { type AttemptOutcome, applyOutcome, createTask, deferTask, pauseTask } from '../../src/core/task-machine.js';

/*
 * The breaker's transitions (core/circuit.ts) and the task's wait (deferTask): pure functions, on a
 * test clock. Closed -> open after N failures in a row; open holds tasks until its time ends; then
 * one probe; the probe's failure doubles the open time up to the cap; any success closes it.
 */

const POLICY: BreakerPolicy = { failureThreshold: 3, openMs: 1_000, maxOpenMs: 3_000, callbackUrl: null };
const fresh = (): Circuit => newCircuit('host', 'tag', null);
const HOLD = 5_000;

/** Applies `result` of task `taskId` to `circuit`, answering the next circuit (undefined: no record). */
function after(circuit: Circuit | undefined, result: 'success' | 'failure', now: number, taskId = 'T'): Circuit | undefined {
  const step = afterResult(circuit, fresh, POLICY, result, taskId, now);
  if (step === 'unchanged') return circuit;
  return step.next ?? undefined;
}

describe('circuit transitions', () => {
  test('closed: failures count up; the N-th in a row opens it for openMs, and says it opened', () => {
    const clock = new TestClock(1_000_000);
    let circuit = after(undefined, 'failure', clock.now());
    circuit = after(circuit, 'failure', clock.now());
    assert.equal(circuit?.state, 'closed');
    assert.equal(circuit?.failures, 2);
    const step = afterResult(circuit, fresh, POLICY, 'failure', 'T', clock.now());
    assert.notEqual(step, 'unchanged');
    if (step === 'unchanged') return;
    assert.equal(step.opened, true);
    assert.equal(step.next?.state, 'open');
    assert.equal(step.next?.retryAt, clock.now() + 1_000);
    assert.equal(step.next?.openMs, 1_000);
  });

  test('a success clears the failures: they must be in a row; on a clean circuit it changes nothing (no write)', () => {
    const circuit = after(after(undefined, 'failure', 0), 'failure', 0);
    assert.equal(after(circuit, 'success', 0), undefined);
    assert.equal(afterResult(undefined, fresh, POLICY, 'success', 'T', 0), 'unchanged');
  });

  test('open: tasks wait until its time ends; then one probe, the others wait for it', () => {
    const clock = new TestClock(1_000_000);
    let circuit: Circuit | undefined;
    for (let i = 0; i < 3; i++) circuit = after(circuit, 'failure', clock.now());
    assert.deepEqual(admit(circuit, 'A', clock.now(), HOLD, POLICY.openMs), { go: false, until: clock.now() + 1_000 });
    clock.advance(1_000);
    const probe = admit(circuit, 'A', clock.now(), HOLD, POLICY.openMs);
    assert.ok(probe.go && probe.probe);
    assert.equal(probe.probe.state, 'half-open');
    assert.equal(probe.probe.probeTaskId, 'A');
    // Another task waits (at most the first open time), the probe itself goes again (a re-claim).
    assert.deepEqual(admit(probe.probe, 'B', clock.now(), HOLD, POLICY.openMs), { go: false, until: clock.now() + 1_000 });
    assert.deepEqual(admit(probe.probe, 'A', clock.now(), HOLD, POLICY.openMs), { go: true, probe: null });
    // A probe whose hold ran out (its node died) lets the next task probe.
    clock.advance(HOLD);
    const next = admit(probe.probe, 'B', clock.now(), HOLD, POLICY.openMs);
    assert.ok(next.go && next.probe?.probeTaskId === 'B');
  });

  test('a failed probe opens it again for twice the time, up to maxOpenMs; a success closes it', () => {
    const clock = new TestClock(1_000_000);
    let circuit: Circuit | undefined;
    for (let i = 0; i < 3; i++) circuit = after(circuit, 'failure', clock.now());
    const times: number[] = [];
    for (let round = 0; round < 3; round++) {
      clock.advance(circuit!.openMs);
      const probe = admit(circuit, `P${round}`, clock.now(), HOLD, POLICY.openMs);
      assert.ok(probe.go && probe.probe);
      // A failure of a task that is not the probe (sent before it opened) changes nothing.
      assert.equal(afterResult(probe.probe, fresh, POLICY, 'failure', 'other', clock.now()), 'unchanged');
      const step = afterResult(probe.probe, fresh, POLICY, 'failure', `P${round}`, clock.now());
      assert.ok(step !== 'unchanged' && step.next);
      assert.equal(step.opened, false, 'a failed probe is not a new opening: no second callback');
      circuit = step.next;
      times.push(circuit.openMs);
      assert.equal(circuit.retryAt, clock.now() + circuit.openMs);
    }
    assert.deepEqual(times, [2_000, 3_000, 3_000]);
    assert.equal(circuit?.opens, 4);
    assert.equal(after(circuit, 'success', clock.now()), undefined);
  });

  test('what counts: a 2xx succeeds; no answer or a retried status fails; nothing sent or a final answer counts neither way', () => {
    const config = DEFAULT_CONFIG;
    assert.equal(resultOf({ config }, { ok: true, statusCode: 200 }), 'success');
    assert.equal(resultOf({ config }, { ok: false, statusCode: 503 }), 'failure');
    assert.equal(resultOf({ config }, { ok: false, statusCode: 0, error: 'timeout' }), 'failure');
    assert.equal(resultOf({ config }, { ok: false, statusCode: 0, permanent: true }), null);
    const finals = { ...config, retryPolicy: { finalStatuses: [404], honorRetryAfter: false, retryAfterCapMs: 0, maxRetryDurationMs: 0 } };
    assert.equal(resultOf({ config: finals }, { ok: false, statusCode: 404 }), null);
    assert.equal(resultOf({ config: finals }, { ok: false, statusCode: 500 }), 'failure');
  });
});

describe('deferTask: a wait that uses no attempt', () => {
  const FAIL: AttemptOutcome = { ok: false, statusCode: 500 };

  test('the next execution moves, the lease is given back, counts stay, one Circuit entry', () => {
    const clock = new TestClock(Date.UTC(2026, 0, 1));
    const created = createTask(
      {
        id: '01KDXQ0000ABCDEFGHJKMNPQRS',
        projectId: 'P',
        config: { ...DEFAULT_CONFIG, retry: 3, retryInterval: 1_000 },
        request: new Uint8Array(),
      },
      clock.now(),
    );
    const failed = applyOutcome({ ...created, leaseToken: 'x', leaseUntil: clock.now() + 15_000 }, FAIL, clock.now()).task;
    const leased = { ...failed, leaseToken: 'y', leaseUntil: clock.now() + 15_000 };
    const held = deferTask(leased, clock.now() + 60_000, 'The circuit of its target is open', clock.now());
    assert.deepEqual(held.task, { ...failed, execAt: clock.now() + 60_000 });
    assert.equal(held.entries.length, 1);
    assert.equal(held.entries[0]!.label, 'Circuit');
    assert.match(held.entries[0]!.description, /next retry waits until .*using no attempt/);
    // Paused meanwhile: the wait is kept as time left.
    const paused = pauseTask(failed, clock.now()).task;
    assert.equal(deferTask(paused, clock.now() + 60_000, 'open', clock.now()).task.pausedLeft, 60_000);
  });
});
