import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  FLOW,
  type FlowLimits,
  type FlowUse,
  flowRoom,
  flowWakeAt,
  paceAfterStart,
  paceRoom,
  rateCatchUp,
  rateWindowStart,
} from '../../src/core/flow.js';

const NOW = 1_000_000;
const limits = (overrides: Partial<FlowLimits> = {}): FlowLimits => ({
  rate: null,
  parallelism: null,
  ordered: false,
  paused: false,
  ...overrides,
});
const use = (overrides: Partial<FlowUse> = {}): FlowUse => ({
  inFlight: 0,
  leaseEnd: null,
  starts: 0,
  oldestStart: null,
  pace: 0,
  headWaits: false,
  ...overrides,
});

describe('flowRoom', () => {
  test('no limits: unbounded; paused: none', () => {
    assert.equal(flowRoom(limits(), use({ inFlight: 500, starts: 500 }), NOW), Infinity);
    assert.equal(flowRoom(limits({ paused: true }), use(), NOW), 0);
  });

  test('the tightest limit decides, and never below zero', () => {
    const both = limits({ rate: { limit: 100, periodMs: 1_000 }, parallelism: 3 });
    // The pace 50 ms behind: five starts of it are due; the window has room for two.
    assert.equal(flowRoom(both, use({ starts: 98, inFlight: 0, pace: NOW - 40 }), NOW), 2, 'the rate');
    assert.equal(flowRoom(both, use({ starts: 0, inFlight: 2 }), NOW), 1, 'the parallelism');
    assert.equal(flowRoom(both, use({ starts: 102, inFlight: 5 }), NOW), 0);
  });

  test('ordered: one, and only while none is in flight', () => {
    assert.equal(flowRoom(limits({ ordered: true }), use(), NOW), 1);
    assert.equal(flowRoom(limits({ ordered: true }), use({ inFlight: 1 }), NOW), 0);
  });
});

describe('the pace of a rate', () => {
  test('spaces starts evenly; an idle key starts one, not a burst', () => {
    const rate = { limit: 1_000, periodMs: 1_000 };
    assert.equal(paceRoom(rate, 0, NOW), 1, 'idle: one');
    const pace = paceAfterStart(rate, 0, NOW);
    assert.equal(pace, NOW + 1);
    assert.equal(paceRoom(rate, pace, NOW), 0);
    assert.equal(paceRoom(rate, pace, NOW + 1), 1, 'then one per spacing');
  });

  test('a claim that comes late catches up what it missed, within rateCatchUp', () => {
    const rate = { limit: 50, periodMs: 1_000 };
    assert.equal(rateCatchUp(rate), Math.min(1_000, FLOW.catchUpMs));
    const pace = NOW + 20;
    assert.equal(paceRoom(rate, pace, NOW + 120), 6, '100 ms late: five missed and the one due');
    assert.equal(paceRoom(rate, pace, NOW + 20 + rateCatchUp(rate) + 1), 1, 'further behind: from now again');
  });

  test('a slow rate starts one at a time', () => {
    const rate = { limit: 3, periodMs: 60_000 };
    const pace = paceAfterStart(rate, 0, NOW);
    assert.equal(paceRoom(rate, pace, NOW + 19_999), 0);
    assert.equal(paceRoom(rate, pace, NOW + 20_000), 1);
  });
});

describe('rateWindowStart', () => {
  test('a start exactly one period ago no longer counts', () => {
    assert.equal(rateWindowStart({ limit: 1, periodMs: 250 }, NOW), NOW - 250);
  });
});

describe('flowWakeAt', () => {
  test('with room: now; paused: never (resuming wakes it)', () => {
    assert.equal(flowWakeAt(limits({ parallelism: 2 }), use({ inFlight: 1 }), NOW), NOW);
    assert.equal(flowWakeAt(limits({ paused: true }), use(), NOW), null);
  });

  test('a full rate: when its oldest start leaves the window, and its pace allows', () => {
    const rate = limits({ rate: { limit: 2, periodMs: 500 } });
    assert.equal(flowWakeAt(rate, use({ starts: 2, oldestStart: NOW - 100, pace: NOW + 200 }), NOW), NOW + 400);
    assert.equal(flowWakeAt(rate, use({ starts: 1, oldestStart: NOW - 100, pace: NOW + 200 }), NOW), NOW + 200, 'the pace');
  });

  test('a full parallelism: when the earliest lease ends (a vanished holder), at the latest after recheckMs', () => {
    const narrow = limits({ parallelism: 1 });
    assert.equal(flowWakeAt(narrow, use({ inFlight: 1, leaseEnd: NOW + 300 }), NOW), NOW + 300);
    assert.equal(flowWakeAt(narrow, use({ inFlight: 1, leaseEnd: NOW + 60_000 }), NOW), NOW + FLOW.recheckMs);
  });

  test('a long period is looked at again after recheckMs, never later', () => {
    const slow = limits({ rate: { limit: 1, periodMs: 3_600_000 } });
    assert.equal(flowWakeAt(slow, use({ starts: 1, oldestStart: NOW }), NOW), NOW + FLOW.recheckMs);
  });

  test('ordered: now only when its head waits; a head scheduled later or in flight wakes the key itself', () => {
    const fifo = limits({ ordered: true });
    assert.equal(flowWakeAt(fifo, use({ headWaits: true }), NOW), NOW);
    assert.equal(flowWakeAt(fifo, use({ headWaits: false }), NOW), NOW + FLOW.recheckMs, 'no busy loop while the head retries later');
    assert.equal(flowWakeAt(fifo, use({ inFlight: 1, leaseEnd: NOW + 50 }), NOW), NOW + 50);
  });
});
