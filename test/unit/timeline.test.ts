import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isAppError } from '../../src/core/errors.js';
import { DEFAULT_CONFIG } from '../../src/core/subscription.js';
import { createTask, pauseTask, subscribeEntry } from '../../src/core/task-machine.js';
import {
  TIMELINE,
  decodeCursor,
  encodeCursor,
  omittedCount,
  omittedEntry,
  pageEntries,
  timelinePageQuery,
} from '../../src/core/timeline.js';

describe('core/timeline.ts', () => {
  test('the bound leaves room for the first entries, the Omitted entry and some latest ones; a page holds a whole timeline', () => {
    assert.ok(TIMELINE.keepFirst + 1 < TIMELINE.maxEntries);
    assert.ok(TIMELINE.pageMax > TIMELINE.maxEntries, 'with its derived Subscribe');
  });

  test('a cursor gives back the position it was made from; anything else is refused', () => {
    for (const position of [0, 1, 20, 4_294_967_296, Number.MAX_SAFE_INTEGER]) {
      const cursor = encodeCursor(position);
      assert.match(cursor, /^[A-Za-z0-9_-]+$/);
      assert.equal(decodeCursor(cursor), position);
    }
    const foreign = (text: string): string => Buffer.from(text).toString('base64url');
    for (const cursor of [
      '',
      '!!',
      'a b',
      foreign('12'),
      foreign('p'),
      foreign('p-1'),
      foreign('p01'),
      foreign('p1.5'),
      foreign('p99999999999999999'),
    ]) {
      assert.equal(decodeCursor(cursor), null, JSON.stringify(cursor));
    }
  });

  test('limit and cursor are checked together; defaults are the largest page from the start', () => {
    assert.deepEqual(timelinePageQuery({}), { limit: TIMELINE.pageMax, from: null });
    assert.deepEqual(timelinePageQuery({ limit: '1', cursor: encodeCursor(7) }), { limit: 1, from: 7 });
    assert.deepEqual(timelinePageQuery({ limit: String(TIMELINE.pageMax) }), { limit: TIMELINE.pageMax, from: null });
    try {
      timelinePageQuery({ limit: '0', cursor: 'nope' });
      assert.fail('accepted');
    } catch (error) {
      assert.ok(isAppError(error));
      assert.equal(error.code, 'VALIDATION_FAILED');
      assert.deepEqual(
        error.issues.map((i) => i.field),
        ['querystring.limit', 'querystring.cursor'],
      );
    }
  });

  test('the first page starts with Subscribe, derived or stored; no later page holds one', () => {
    const task = createTask({ id: 'T', projectId: 'P', config: DEFAULT_CONFIG, request: Buffer.of(2) }, 1_000);
    const pause = pauseTask(task, 2_000).entries;
    const stored = { ...subscribeEntry(task), description: 'as stored before it was derived' };
    assert.deepEqual(pageEntries(task, pause, true), [subscribeEntry(task), ...pause]);
    assert.deepEqual(pageEntries(task, [stored, ...pause], true), [stored, ...pause]);
    assert.deepEqual(pageEntries(task, [stored, ...pause], false), pause, 'after a first page of one entry');
    assert.deepEqual(pageEntries(task, pause, false), pause);
  });

  test('the Omitted entry says how many were left out, and its count reads back', () => {
    const one = omittedEntry(1, 5);
    assert.equal(one.label, 'Omitted');
    assert.match(one.description, /^1 entry was left out/);
    assert.deepEqual(one.metadata, { omitted: 1 });
    assert.match(omittedEntry(31, 5).description, /^31 entries were left out/);
    assert.equal(omittedCount(omittedEntry(31, 5).metadata), 31);
    assert.equal(omittedCount({ omitted: 'x' }), 0);
    assert.equal(omittedCount(undefined), 0);
  });
});
