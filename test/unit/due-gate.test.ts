import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TestClock } from '../../src/core/clock.js';
import { DueGate } from '../../src/dispatch/due-gate.js';
import { holdFor, waitFor } from '../helpers/wait.js';

/** Starts a wait and records when it ends, in the order waits end. */
function watch(gate: DueGate, at: number, ended: number[]): Promise<void> {
  return gate.until(at).then(() => void ended.push(at));
}

test('the due gate lets nothing go before the clock reads its time, and all due at one time together', async () => {
  const clock = new TestClock(1_000);
  const gate = new DueGate(clock);
  const ended: number[] = [];
  const waits = [watch(gate, 1_050, ended), watch(gate, 1_050, ended), watch(gate, 1_080, ended), watch(gate, 1_020, ended)];
  // The gate's timer fires after real milliseconds and finds the test clock unmoved: nothing goes.
  await holdFor(40, 'the timer of the earliest wait to fire while the clock has not moved');
  assert.deepEqual(ended, []);

  clock.set(1_050);
  await waitFor('the waits due by 1,050 to end', () => ended.length >= 3);
  assert.deepEqual(ended, [1_020, 1_050, 1_050], 'earliest first, both waits for 1,050 at once');
  await holdFor(20, 'the timer of the wait for 1,080 to fire while the clock reads 1,050');
  assert.deepEqual(ended, [1_020, 1_050, 1_050], 'the wait for 1,080 still waits');

  clock.set(1_080);
  await Promise.all(waits);
  assert.deepEqual(ended, [1_020, 1_050, 1_050, 1_080]);
});

test('a time already reached goes at once; releaseAll lets every wait go', async () => {
  const clock = new TestClock(5_000);
  const gate = new DueGate(clock);
  const ended: number[] = [];
  await watch(gate, 5_000, ended);
  assert.deepEqual(ended, [5_000]);

  const waits = [watch(gate, 9_000, ended), watch(gate, 60_000, ended)];
  gate.releaseAll();
  await Promise.all(waits);
  assert.deepEqual(ended, [5_000, 9_000, 60_000]);
});
