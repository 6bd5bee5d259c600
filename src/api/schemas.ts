import { ID_LENGTH } from '../core/ids.js';
import { HTTP_METHODS, TASK_STATES, TIMELINE_LABELS } from '../core/task.js';
import { LIMITS } from '../core/limits.js';

/**
 * JSON Schemas of the v1beta routes. Fastify validates bodies against them (types, lengths,
 * patterns, unknown fields; every error collected) before core/subscription.ts checks what needs
 * the clock or several fields; they also describe the answers, which Fastify serialises from them.
 */
const duration = {
  type: ['integer', 'string'],
  maxLength: 32,
  description: 'Milliseconds, or a duration string: "500ms", "10s", "5m", "1h", "2d"',
} as const;
const epochMs = { type: 'integer', minimum: 0, maximum: 8_640_000_000_000_000, description: 'Milliseconds since the Unix epoch (UTC)' } as const;
const stringMap = (keyPattern: string, valuePattern?: string) => ({
  type: 'object',
  maxProperties: 64,
  propertyNames: { pattern: keyPattern, minLength: 1, maxLength: LIMITS.nameLength },
  additionalProperties: valuePattern
    ? { type: 'string', maxLength: LIMITS.valueLength, pattern: valuePattern }
    : { type: 'string', maxLength: LIMITS.valueLength },
}) as const;

export const subscribeBodySchema = {
  type: 'object',
  required: ['httpRequest'],
  additionalProperties: false,
  properties: {
    httpRequest: {
      type: 'object',
      required: ['url', 'method'],
      additionalProperties: false,
      properties: {
        url: { type: 'string', minLength: 1, maxLength: LIMITS.urlLength },
        method: { type: 'string', enum: HTTP_METHODS },
        // Not empty, too, but core/subscription.ts says so: a minLength here counts the code points of
        // the whole body (ajv's ucs2length), a loop over every character on every subscribe.
        data: { type: 'string', pattern: '^[A-Za-z0-9+/_-]*={0,2}$', description: 'Base64 body' },
        params: stringMap('^[A-Za-z0-9]+$'),
        // Header values: visible ASCII, space, tab and obs-text; never CR, LF or NUL.
        headers: stringMap('^[A-Za-z0-9-]+$', '^[\\t\\x20-\\x7e\\x80-\\xff]*$'),
      },
    },
    config: {
      type: 'object',
      additionalProperties: false,
      properties: {
        executionDelay: duration,
        executionAt: epochMs,
        retry: { type: 'integer', minimum: 0, maximum: LIMITS.retryMax },
        retryInterval: duration,
        retryExponential: { type: 'boolean' },
        retryAt: epochMs,
        repeat: { type: 'integer', minimum: 0, maximum: LIMITS.repeatMax },
        repeatInterval: duration,
        repeatExponential: { type: 'boolean' },
        repeatAt: epochMs,
        timeout: duration,
      },
    },
  },
} as const;

export const registerBodySchema = {
  type: 'object',
  required: ['email'],
  additionalProperties: false,
  properties: {
    email: { type: 'string', minLength: 3, maxLength: LIMITS.emailLength },
  },
} as const;

export const idParamsSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string' } },
} as const;

const queued = {
  id: { type: 'string', minLength: ID_LENGTH, maxLength: ID_LENGTH },
  state: { type: 'string', enum: TASK_STATES },
  statusCode: { type: 'integer' },
  estimateStartAt: { type: 'integer' },
  estimateExecAt: { type: 'integer' },
  estimateEndAt: { type: 'integer' },
  currentlyRetry: { type: 'boolean' },
  currentlyRepeat: { type: 'boolean' },
} as const;

export const queuedSchema = {
  type: 'object',
  required: Object.keys(queued),
  properties: queued,
} as const;

export const taskSchema = {
  type: 'object',
  properties: {
    ...queued,
    config: {
      type: 'object',
      properties: {
        ...Object.fromEntries(
          ['executionDelay', 'executionAt', 'retry', 'retryInterval', 'retryAt', 'repeat', 'repeatInterval', 'repeatAt', 'timeout']
            .map((k) => [k, { type: 'integer' }] as const),
        ),
        retryExponential: { type: 'boolean' },
        repeatExponential: { type: 'boolean' },
      },
    },
    updates: {
      type: 'object',
      properties: Object.fromEntries(
        ['retryCount', 'retryLimit', 'repeatCount', 'repeatLimit', 'estimateNextRetryAt', 'estimateNextRepeatAt', 'attempts', 'pausedTimeLeft']
          .map((k) => [k, { type: 'integer' }]),
      ),
    },
  },
} as const;

export const timelineSchema = {
  type: 'array',
  items: {
    type: 'object',
    required: ['label', 'description', 'createdAt'],
    properties: {
      label: { type: 'string', enum: TIMELINE_LABELS },
      description: { type: 'string' },
      createdAt: { type: 'integer' },
      metadata: { type: 'object', additionalProperties: { type: ['integer', 'string', 'boolean'] } },
    },
  },
} as const;

export const responseSchema = (value: string) => ({
  type: 'object',
  required: ['response'],
  properties: { response: { type: 'string', enum: [value] } },
}) as const;

export const errorSchema = {
  type: 'object',
  required: ['statusCode', 'code', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string' },
    error: { type: 'string' },
    message: { type: 'string' },
    issues: {
      type: 'array',
      items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } },
    },
  },
} as const;
