import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClientWindows, asGiven, clientOf } from '../../src/api/client-windows.js';
import { FailureThrottle } from '../../src/api/failure-throttle.js';
import { RequestThrottle } from '../../src/api/request-throttle.js';

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let now = start;
  return { now: () => now, advance: (ms) => void (now += ms) };
}

describe('ClientWindows', () => {
  test('counts per client in a window that starts at its first event and ends windowMs later', () => {
    const clock = manualClock();
    const windows = new ClientWindows(1_000, clock);
    assert.equal(windows.current('a'), undefined);
    assert.deepEqual(windows.add('a'), { count: 1, resetAt: 1_001_000 });
    clock.advance(999);
    assert.deepEqual(windows.add('a'), { count: 2, resetAt: 1_001_000 });
    assert.deepEqual(windows.add('b'), { count: 1, resetAt: 1_001_999 });
    clock.advance(1);
    assert.equal(windows.current('a'), undefined, 'the window of a ended');
    assert.deepEqual(windows.add('a'), { count: 1, resetAt: 1_002_000 }, 'a new window from its next event');
    assert.deepEqual(windows.current('b'), { count: 1, resetAt: 1_001_999 });
  });

  test('holds at most maxClients: the oldest window is dropped for a new client', () => {
    const windows = new ClientWindows(60_000, manualClock(), 2);
    windows.add('a');
    windows.add('b');
    windows.add('b');
    windows.add('c');
    assert.equal(windows.current('a'), undefined);
    assert.equal(windows.current('b')?.count, 2);
    assert.equal(windows.current('c')?.count, 1);
  });
});

describe('RequestThrottle', () => {
  test('allows limit requests per window, then refuses with the seconds left; a new window allows again', () => {
    const clock = manualClock();
    const throttle = new RequestThrottle(2, 10_000, clock);
    assert.deepEqual(throttle.take('192.0.2.1'), { allowed: true, limit: 2, remaining: 1, resetSeconds: 10 });
    clock.advance(2_500);
    assert.deepEqual(throttle.take('192.0.2.1'), { allowed: true, limit: 2, remaining: 0, resetSeconds: 8 });
    assert.deepEqual(throttle.take('192.0.2.1'), { allowed: false, limit: 2, remaining: 0, resetSeconds: 8 });
    assert.equal(throttle.take('192.0.2.2').allowed, true, 'another client has its own count');
    clock.advance(7_499);
    assert.deepEqual(throttle.take('192.0.2.1'), { allowed: false, limit: 2, remaining: 0, resetSeconds: 1 }, 'never 0 s while refused');
    clock.advance(1);
    assert.equal(throttle.take('192.0.2.1').allowed, true);
  });

  test('an IPv6 client is its /64: addresses of one /64 share a count, another /64 has its own', () => {
    const throttle = new RequestThrottle(2, 10_000, manualClock());
    assert.equal(throttle.take('2001:db8:1:2::1').allowed, true);
    assert.equal(throttle.take('2001:db8:1:2:ffff:ffff:ffff:fffe').allowed, true);
    assert.equal(throttle.take('2001:0db8:0001:0002:0:0:0:99').allowed, false, 'the same /64, written out in full');
    assert.equal(throttle.take('2001:db8:1:3::1').allowed, true);
  });
  test('keyed by project (asGiven): ids are counted as they are, not read as addresses', () => {
    const throttle = new RequestThrottle(1, 10_000, manualClock(), asGiven);
    assert.equal(throttle.take('01ARZ3NDEKTSV4RRFFQ69G5FAV').allowed, true);
    assert.equal(throttle.take('01ARZ3NDEKTSV4RRFFQ69G5FAV').allowed, false);
    assert.equal(throttle.take('01ARZ3NDEKTSV4RRFFQ69G5FAW').allowed, true, 'another project has its own count');
    assert.equal(throttle.take('2001:db8:1:2::1').allowed, true);
    assert.equal(throttle.take('2001:db8:1:2::2').allowed, true, 'keys that look like addresses are not grouped by /64');
  });
});

describe('clientOf', () => {
  test('IPv4 as it is; IPv6 as its /64; IPv4-mapped IPv6 as the IPv4 address; anything else as given', () => {
    assert.equal(clientOf('203.0.113.7'), '203.0.113.7');
    assert.equal(clientOf('2001:db8:a:b:c:d:e:f'), '2001:db8:a:b::/64');
    assert.equal(clientOf('2001:DB8:A:B::1'), '2001:db8:a:b::/64');
    assert.equal(clientOf('::1'), '0:0:0:0::/64');
    assert.equal(clientOf('::ffff:203.0.113.7'), '203.0.113.7');
    assert.equal(clientOf('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(clientOf('not:an:address'), 'not:an:address');
  });
});

describe('FailureThrottle (on ClientWindows)', () => {
  test('blocks a client after limit failures for the rest of its window, and only that client', () => {
    const clock = manualClock();
    const failures = new FailureThrottle(2, 5_000, clock);
    failures.recordFailure('192.0.2.1');
    assert.equal(failures.blockedFor('192.0.2.1'), 0);
    clock.advance(1_000);
    failures.recordFailure('192.0.2.1');
    assert.equal(failures.blockedFor('192.0.2.1'), 4_000);
    assert.equal(failures.blockedFor('192.0.2.2'), 0);
    clock.advance(4_000);
    assert.equal(failures.blockedFor('192.0.2.1'), 0, 'the window ended');
  });

  test('an IPv6 client is its /64 here too: fresh addresses of one /64 do not start afresh', () => {
    const failures = new FailureThrottle(2, 5_000, manualClock());
    failures.recordFailure('2001:db8:1:2::1');
    failures.recordFailure('2001:db8:1:2::2');
    assert.equal(failures.blockedFor('2001:db8:1:2::3'), 5_000);
    assert.equal(failures.blockedFor('2001:db8:1:3::1'), 0);
  });
});
