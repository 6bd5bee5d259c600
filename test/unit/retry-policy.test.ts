import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { excerptText } from '../../src/core/attempt-log.js';
import { AppError } from '../../src/core/errors.js';
import {
  RETRY_POLICY_DEFAULTS,
  backoffDelay,
  checkRetryPolicy,
  finalReason,
  parseRetryAfter,
  pastRetryDuration,
  policyRetryAt,
  retryAfterDelay,
} from '../../src/core/retry-policy.js';
import type { RetryPolicy } from '../../src/core/shapes.js';
import { DEFAULT_CONFIG } from '../../src/core/subscription.js';
import type { Task, TaskConfig } from '../../src/core/task.js';
import { applyOutcome, createTask, replayTask } from '../../src/core/task-machine.js';
import { decodeConfig, encodeConfig } from '../../src/store/stored-config.js';
import { seededRandom } from '../helpers/seeded-random.js';

const T0 = Date.UTC(2026, 0, 1);
const POLICY: RetryPolicy = { honorRetryAfter: true, retryAfterCapMs: 3_600_000, maxRetryDurationMs: 0 };
const never = (): number => assert.fail('no jitter drawn');

function task(config: Partial<TaskConfig>): Task {
  return createTask(
    {
      id: '01KDXQ0000ABCDEFGHJKMNPQRS',
      projectId: '01KDXQ0000ZZZZZZZZZZZZZZZZ',
      config: { ...DEFAULT_CONFIG, ...config },
      request: new Uint8Array(1),
    },
    T0,
  );
}

describe('parseRetryAfter', () => {
  test('delay-seconds and HTTP dates; a date past is 0; anything else is not one', () => {
    assert.equal(parseRetryAfter('120', T0), 120_000);
    assert.equal(parseRetryAfter(' 0 ', T0), 0);
    assert.equal(parseRetryAfter(new Date(T0 + 90_000).toUTCString(), T0), 90_000);
    assert.equal(parseRetryAfter(new Date(T0 - 90_000).toUTCString(), T0), 0);
    for (const bad of ['', '-5', '1.5', '12abc', 'tomorrow', '2026-01-01T00:00:00Z', 'Thu, 01 Jan 2026 00:00:00 +0100'])
      assert.equal(parseRetryAfter(bad, T0), null, bad);
  });

  test('honoured only on 429 and 503, capped, and not at all when turned off', () => {
    assert.equal(retryAfterDelay(POLICY, 429, '60', T0), 60_000);
    assert.equal(retryAfterDelay(POLICY, 503, '60', T0), 60_000);
    assert.equal(retryAfterDelay(POLICY, 500, '60', T0), 0);
    assert.equal(retryAfterDelay(POLICY, 503, undefined, T0), 0);
    assert.equal(retryAfterDelay(POLICY, 503, 'soon', T0), 0);
    assert.equal(retryAfterDelay({ ...POLICY, retryAfterCapMs: 10_000 }, 503, '60', T0), 10_000);
    assert.equal(retryAfterDelay({ ...POLICY, honorRetryAfter: false }, 503, '60', T0), 0);
  });
});

describe('backoffDelay', () => {
  test('base × factor^(n-1) up to the cap; full jitter scales it by the draw', () => {
    const backoff = { baseMs: 1_000, factor: 2, capMs: 10_000, jitter: 'none' as const };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(backoff, n, never)),
      [1_000, 2_000, 4_000, 8_000, 10_000, 10_000],
    );
    const draws = seededRandom(7);
    const again = seededRandom(7);
    for (let n = 1; n <= 6; n++) {
      assert.equal(backoffDelay({ ...backoff, jitter: 'full' }, n, draws), Math.floor(again() * Math.min(10_000, 1_000 * 2 ** (n - 1))));
    }
    assert.equal(
      backoffDelay({ ...backoff, jitter: 'full' }, 3, () => 0),
      0,
      'full jitter may retry at once',
    );
  });

  test('a huge exponent stays at the cap', () => {
    assert.equal(backoffDelay({ baseMs: 1_000, factor: 10, capMs: 60_000, jitter: 'none' }, 10_000, never), 60_000);
  });
});

describe('finalReason, policyRetryAt, pastRetryDuration', () => {
  test('the stop header, then finalStatuses, then a status not in retryStatuses; no answer is never final', () => {
    const policy = { ...POLICY, retryStatuses: [503], finalStatuses: [404] };
    assert.match(finalReason(policy, 500, true)!, /asked not to retry/);
    assert.match(finalReason(policy, 0, true)!, /asked not to retry/);
    assert.match(finalReason(policy, 404, false)!, /404 is final/);
    assert.match(finalReason(policy, 500, false)!, /500 is not retried/);
    assert.equal(finalReason(policy, 503, false), null);
    assert.equal(finalReason(policy, 0, false), null, 'a timeout is retried');
    assert.equal(finalReason(POLICY, 500, false), null, 'no lists: every status is retried');
  });

  test('the later of the backoff (or the seed time) and Retry-After; a pinned or passed seed time is kept', () => {
    const backoff = { baseMs: 1_000, factor: 2, capMs: 60_000, jitter: 'none' as const };
    const now = T0;
    assert.equal(policyRetryAt({ ...POLICY, backoff }, now + 5_000, false, { statusCode: 500 }, 2, now, never), now + 2_000);
    assert.equal(policyRetryAt(POLICY, now + 5_000, false, { statusCode: 500 }, 2, now, never), now + 5_000);
    assert.equal(policyRetryAt(POLICY, now + 5_000, false, { statusCode: 503, retryAfter: '30' }, 2, now, never), now + 30_000);
    assert.equal(policyRetryAt(POLICY, now + 5_000, true, { statusCode: 503, retryAfter: '30' }, 2, now, never), now + 5_000);
    assert.equal(policyRetryAt(POLICY, null, false, { statusCode: 503, retryAfter: '30' }, 2, now, never), null);
  });

  test('the time cap counts from the first failure and allows a retry exactly at it', () => {
    const config = { ...DEFAULT_CONFIG, retryPolicy: { ...POLICY, maxRetryDurationMs: 10_000 } };
    assert.equal(pastRetryDuration(config, T0, T0 + 10_000), false);
    assert.equal(pastRetryDuration(config, T0, T0 + 10_001), true);
    assert.equal(pastRetryDuration(DEFAULT_CONFIG, T0, T0 + 1e12), false, 'no policy, no cap');
  });
});

describe('applyOutcome with a retry policy', () => {
  test("retrySince is the run's first failure, kept over its retries and cleared by a success", () => {
    let current = task({ retry: 3, repeat: 1, retryPolicy: { ...POLICY, maxRetryDurationMs: 60_000 } });
    current = applyOutcome(current, { ok: false, statusCode: 500 }, T0 + 1_000, never).task;
    assert.equal(current.retrySince, T0 + 1_000);
    current = applyOutcome(current, { ok: false, statusCode: 500 }, T0 + 5_000, never).task;
    assert.equal(current.retrySince, T0 + 1_000);
    current = applyOutcome(current, { ok: true, statusCode: 200 }, T0 + 9_000, never).task;
    assert.equal(current.retrySince, 0);
    assert.equal(current.repeating, true);
  });

  test('a final status ends the task without using a retry; a permanent failure stays as it was', () => {
    const config = { retry: 3, retryPolicy: { ...POLICY, finalStatuses: [410] } };
    const gone = applyOutcome(task(config), { ok: false, statusCode: 410 }, T0 + 1_000, never);
    assert.equal(gone.task.state, 'ERROR');
    assert.equal(gone.task.retryCount, 0);
    const refused = applyOutcome(task(config), { ok: false, statusCode: 0, error: 'refused', permanent: true }, T0 + 1_000, never);
    assert.match(refused.entries.at(-1)!.description, /retrying cannot help/);
  });
});

describe('stored retry policies', () => {
  test('a config with a policy round-trips; a bad stored policy is refused', () => {
    const config: TaskConfig = {
      ...DEFAULT_CONFIG,
      retry: 2,
      retryPolicy: {
        ...POLICY,
        backoff: { baseMs: 1_000, factor: 1.5, capMs: 9_000, jitter: RETRY_POLICY_DEFAULTS.jitter },
        finalStatuses: [404],
      },
    };
    assert.deepEqual(decodeConfig(encodeConfig(config), 'x'), config);
    assert.deepEqual(decodeConfig(encodeConfig(DEFAULT_CONFIG), 'x'), DEFAULT_CONFIG);
    assert.throws(() => decodeConfig('{"retryPolicy":{"honorRetryAfter":true}}', 'x'), /bad config field retryPolicy/);
    assert.equal(checkRetryPolicy({ ...POLICY, extra: 1 }), null);
    assert.equal(checkRetryPolicy({ ...POLICY, backoff: { baseMs: 1, factor: 0.5, capMs: 1, jitter: 'full' } }), null);
  });
});

describe('replayTask', () => {
  test('a new RUNNING task due now with the config, tags and host of the original, and links both ways', () => {
    const original: Task = {
      ...task({ retry: 2, executionDelay: 86_400_000 }),
      state: 'ERROR',
      retryCount: 2,
      attempts: 3,
      tags: ['a'],
      hostTag: 'h',
    };
    const replay = replayTask(original, { id: '01KDXQ0001ABCDEFGHJKMNPQRS', request: new Uint8Array([9]) }, T0 + 50_000);
    assert.equal(replay.task.state, 'RUNNING');
    assert.equal(replay.task.execAt, T0 + 50_001);
    assert.equal(replay.task.retryCount, 0);
    assert.equal(replay.task.attempts, 0);
    assert.equal(replay.task.config.retry, 2);
    assert.deepEqual([replay.task.tags, replay.task.hostTag], [['a'], 'h']);
    assert.deepEqual(replay.entries[0]!.metadata, { replayOf: original.id });
    assert.deepEqual(replay.originalEntry.metadata, { replayedAs: '01KDXQ0001ABCDEFGHJKMNPQRS' });
  });

  test('only ERROR and EXCEEDED tasks are replayed', () => {
    for (const state of ['RUNNING', 'PAUSED', 'CANCELED', 'COMPLETED'] as const) {
      assert.throws(
        () => replayTask({ ...task({}), state }, { id: '01KDXQ0001ABCDEFGHJKMNPQRS', request: new Uint8Array(1) }, T0),
        (error: unknown) => error instanceof AppError && error.code === 'TASK_NOT_REPLAYABLE',
      );
    }
  });
});

describe('excerptText', () => {
  test('UTF-8 as text, a character cut at the end left out; other bytes as base64', () => {
    assert.deepEqual(excerptText(null), { response: '', responseEncoding: 'utf8' });
    assert.deepEqual(excerptText(Buffer.from('{"ok":true}')), { response: '{"ok":true}', responseEncoding: 'utf8' });
    const cut = Buffer.from('abc€').subarray(0, 5); // the euro sign's 3 bytes cut after 2
    assert.deepEqual(excerptText(cut), { response: 'abc', responseEncoding: 'utf8' });
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x41]);
    assert.deepEqual(excerptText(binary), { response: binary.toString('base64'), responseEncoding: 'base64' });
  });
});
