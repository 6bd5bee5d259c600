import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SteadyClock } from '../../src/core/clock.js';

/** A wall clock and a monotonic clock the test moves by hand. */
function sources(wallStart: number): { wall: { at: number }; mono: { at: number }; clock: SteadyClock } {
  const wall = { at: wallStart };
  const mono = { at: 1_000.25 };
  return {
    wall,
    mono,
    clock: new SteadyClock(
      () => wall.at,
      () => mono.at,
    ),
  };
}

describe('SteadyClock', () => {
  const T0 = Date.UTC(2026, 5, 1);

  test('reads the wall clock while both clocks advance together', () => {
    const { wall, mono, clock } = sources(T0);
    assert.equal(clock.now(), T0);
    wall.at += 1_500;
    mono.at += 1_500;
    assert.equal(clock.now(), T0 + 1_500);
  });

  test('does not follow a step back of the wall clock: it keeps counting real time', () => {
    const { wall, mono, clock } = sources(T0);
    assert.equal(clock.now(), T0);
    wall.at -= 3_600_000; // the wall clock is set back an hour
    assert.equal(clock.now(), T0, 'no step back');
    wall.at += 250;
    mono.at += 250;
    assert.equal(clock.now(), T0 + 250, 'time goes on at the rate of the monotonic clock');
  });

  test('follows a step forward of the wall clock at once', () => {
    const { wall, mono, clock } = sources(T0);
    clock.now();
    wall.at += 60_000;
    mono.at += 10;
    assert.equal(clock.now(), T0 + 60_000);
    wall.at -= 59_990; // back to where real time is: not followed
    mono.at += 10;
    assert.equal(clock.now(), T0 + 60_010);
  });

  test('is never ahead of the wall clock when the two only differ by how they are read', () => {
    const { wall, mono, clock } = sources(T0);
    let wallSeen = -Infinity;
    for (let i = 0; i < 2_000; i++) {
      const real = T0 + i * 0.37;
      wall.at = Math.floor(real); // whole milliseconds
      mono.at = 1_000.25 + (real - T0) - ((i * 7) % 10) / 20; // read up to half a millisecond apart
      wallSeen = Math.max(wallSeen, wall.at);
      assert.ok(clock.now() <= wallSeen, `read ${i}: ahead of the wall clock`);
    }
  });

  test('never answers less than before, whatever the wall clock does', () => {
    const { wall, mono, clock } = sources(T0);
    let last = clock.now();
    for (let i = 0; i < 1_000; i++) {
      wall.at += ((i * 7919) % 2_001) - 1_000; // steps of up to a second either way
      mono.at += (i % 5) * 0.37;
      const now = clock.now();
      assert.ok(now >= last, `step ${i}: ${now} after ${last}`);
      last = now;
    }
  });
});
