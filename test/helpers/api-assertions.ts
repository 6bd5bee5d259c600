/*
 * Assertions on the API's answers, written from the contract (docs/api/, docs/errors.md) rather
 * than from the schemas in src/core/shapes.ts: the error shape, validation issues, the queued shape.
 */
import assert from 'node:assert/strict';
import { STATUS_CODES } from 'node:http';
import type { ErrorBody, FieldIssue, QueuedView } from '../../src/core/shapes.js';
import type { ApiResponse } from './api-client.js';

export const QUEUED_KEYS = [
  'currentlyRepeat',
  'currentlyRetry',
  'estimateEndAt',
  'estimateExecAt',
  'estimateStartAt',
  'id',
  'state',
  'statusCode',
];

/** A task id: a ULID. */
export const ID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** A well-formed task id that no project holds. */
export const UNKNOWN_ID = '01ARZ3NDEKTSV4RRFFQ69G5FAV';

/**
 * Every error answer: exactly {statusCode, code, error, message}, plus a non-empty `issues` array for
 * VALIDATION_FAILED; `error` is the status text; JSON content type. Returns the body.
 */
export function assertError(res: ApiResponse<unknown>, status: number, code: string, messagePattern?: RegExp): ErrorBody {
  const context = JSON.stringify(res.body);
  assert.equal(res.status, status, context);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, context);
  const body = res.body as ErrorBody;
  assert.equal(typeof body, 'object', context);
  const expectedKeys =
    code === 'VALIDATION_FAILED' ? ['code', 'error', 'issues', 'message', 'statusCode'] : ['code', 'error', 'message', 'statusCode'];
  assert.deepEqual(Object.keys(body).sort(), expectedKeys, `error body keys: ${context}`);
  assert.equal(body.statusCode, status, context);
  assert.equal(body.code, code, context);
  assert.equal(body.error, STATUS_CODES[status], context);
  assert.equal(typeof body.message, 'string', context);
  assert.ok(body.message.length > 0, context);
  if (messagePattern) assert.match(body.message, messagePattern, context);
  if (code === 'VALIDATION_FAILED') {
    assert.ok(Array.isArray(body.issues) && body.issues.length > 0, context);
    for (const issue of body.issues) {
      assert.deepEqual(Object.keys(issue).sort(), ['field', 'message'], context);
      assert.ok(body.message.includes(issue.field), `message names ${issue.field}: ${context}`);
    }
  }
  return body;
}

/** A 400 VALIDATION_FAILED whose issues name every field in `fields` (and, when `only`, no other). */
export function assertValidation(res: ApiResponse<unknown>, fields: string[], only = false): FieldIssue[] {
  const body = assertError(res, 400, 'VALIDATION_FAILED');
  const named = body.issues!.map((i) => i.field);
  for (const field of fields) {
    assert.ok(named.includes(field), `expected an issue for ${field}; got ${JSON.stringify(body.issues)}`);
  }
  if (only) assert.deepEqual([...new Set(named)].sort(), [...new Set(fields)].sort(), JSON.stringify(body.issues));
  return body.issues!;
}

/** The answer of subscribe and resume: exactly the queued shape. */
export function assertQueued(res: ApiResponse<unknown>, status: number): QueuedView {
  const context = JSON.stringify(res.body);
  assert.equal(res.status, status, context);
  const body = res.body as QueuedView;
  assert.deepEqual(Object.keys(body).sort(), QUEUED_KEYS, context);
  assert.match(body.id, ID_PATTERN, context);
  assert.equal(body.state, 'RUNNING', context);
  assert.equal(body.statusCode, 0, context);
  assert.equal(body.estimateEndAt, 0, context);
  assert.equal(body.currentlyRetry, false, context);
  assert.equal(body.currentlyRepeat, false, context);
  assert.equal(typeof body.estimateStartAt, 'number', context);
  assert.equal(typeof body.estimateExecAt, 'number', context);
  return body;
}
