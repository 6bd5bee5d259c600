import type { FastifyRequest } from 'fastify';
import { AppError, validationError } from '../core/errors.js';
import type { RequestCipher } from '../core/sealed-request.js';
import type { IdempotencyClaim, IdempotencyRecord } from '../store/task-store.js';

/*
 * `Idempotency-Key` on `POST /v1beta/subscribe`: the same key (per project) with the same body
 * within the window answers the task the first subscribe made (200, `Idempotent-Replayed: true`)
 * instead of making another; the same key with another body answers 422 IDEMPOTENCY_KEY_REUSED.
 * The store checks and records the key in the write that inserts the task, so concurrent
 * subscribes with one key make one task, on any node. Only keyed digests of the key and of the raw
 * body are stored. The batch route refuses the header: one key cannot stand for many tasks.
 */

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'Idempotent-Replayed';
const MAX_KEY_LENGTH = 255;
/** Visible ASCII and spaces: what a header value can carry unchanged through proxies. */
const KEY_PATTERN = /^[\x20-\x7e]+$/;

/** The request's Idempotency-Key, checked; undefined when none was sent. */
export function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const key = request.headers[IDEMPOTENCY_HEADER];
  if (key === undefined) return undefined;
  const problem =
    typeof key !== 'string' || key.length === 0
      ? 'must be one non-empty value'
      : key.length > MAX_KEY_LENGTH
        ? `must be at most ${MAX_KEY_LENGTH} characters`
        : KEY_PATTERN.test(key)
          ? null
          : 'must be printable ASCII';
  if (problem) throw validationError([{ field: 'Idempotency-Key', message: problem }]);
  return key as string;
}

/** What the store records for the key: digests of the key (per project) and of the raw body. */
export function idempotencyClaim(
  cipher: RequestCipher,
  projectId: string,
  key: string,
  rawBody: string,
  now: number,
  windowMs: number,
): IdempotencyClaim {
  return {
    keyDigest: cipher.keyedDigest('idempotency-key', `${projectId}\n${key}`),
    bodyDigest: cipher.keyedDigest('idempotency-body', rawBody),
    now,
    windowMs,
  };
}

/** The task a replayed key stands for, or the error when the body differs. */
export function replayedTaskId(record: IdempotencyRecord, claim: IdempotencyClaim): string {
  if (record.bodyDigest !== claim.bodyDigest) throw new AppError('IDEMPOTENCY_KEY_REUSED');
  return record.taskId;
}
