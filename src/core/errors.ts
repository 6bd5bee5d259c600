import type { FieldIssue } from './shapes.js';

interface ErrorEntry {
  status: number;
  message: string;
  /** Sent as Retry-After with every answer of this code (unless the error sets its own). */
  retryAfterSeconds?: number;
}

/**
 * The one registry of coded errors. Every failure the service reports to a client is an `AppError`
 * with a stable `code` from this table; `api/error-handler.ts` turns it into
 * `{statusCode, code, error, message}`. Codes never change meaning once published: clients and
 * docs/errors.md depend on them. Guarded by test/docs/docs-in-step.test.ts: every code here is
 * documented and raised somewhere in src, and every code raised is here.
 */
export const ERROR_REGISTRY = {
  VALIDATION_FAILED: { status: 400, message: 'The request is not valid' },
  INVALID_JSON: { status: 400, message: 'The request body is not valid JSON' },
  BAD_REQUEST: { status: 400, message: 'The request is malformed' },
  UNAUTHORIZED: { status: 401, message: 'Missing or invalid credentials' },
  NOT_FOUND: { status: 404, message: 'Route not found' },
  TASK_NOT_FOUND: { status: 404, message: 'Task not found' },
  SCHEDULE_NOT_FOUND: { status: 404, message: 'Schedule not found' },
  BREAKERS_OFF: { status: 404, message: 'Circuit breakers are off for this project; PUT /v1beta/breakers/policy turns them on' },
  CIRCUIT_NOT_FOUND: {
    status: 404,
    message: 'No circuit of this project holds a record for this key: it is closed with no failures counted',
  },
  FLOW_NOT_FOUND: { status: 404, message: 'The project set no limits for this flow key' },
  EMAIL_TAKEN: { status: 409, message: 'This email is already registered' },
  TASK_STATE_CONFLICT: { status: 409, message: 'The task is not in a state that allows this' },
  TASK_IN_FLIGHT: { status: 409, message: 'An attempt of this task is in flight; try again once it is recorded' },
  TASK_BUSY: { status: 409, message: 'The task kept changing while this request tried to change it; try again' },
  SCHEDULE_STATE_CONFLICT: { status: 409, message: 'The schedule is not in a state that allows this' },
  SCHEDULE_BUSY: { status: 409, message: 'The schedule kept changing while this request tried to change it; try again' },
  FLOW_KEYS_FULL: { status: 409, message: 'The project holds limits for as many flow keys as it may; delete one first' },
  SCHEDULES_FULL: {
    status: 409,
    message: 'The project holds as many schedules as it may (SERVICE.SCHEDULES.MAX_PER_PROJECT); delete one first',
  },
  TASK_NOT_REPLAYABLE: { status: 409, message: 'Only a task that ended ERROR or EXCEEDED can be replayed' },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    message: 'This Idempotency-Key was used with another request body; use a new key for a new task',
  },
  REQUEST_TIMEOUT: { status: 408, message: 'The request took too long to arrive' },
  BODY_TOO_LARGE: { status: 413, message: 'The request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'The request body must be application/json' },
  QUEUE_FULL: { status: 429, message: 'The project holds as many tasks as it may' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large' },
  RATE_LIMITED: { status: 429, message: 'Too many requests' },
  INTERNAL: { status: 500, message: 'Internal server error' },
  // Retry-After: Redis reconnects within 2 s, and one at maxmemory needs someone to free memory.
  STORE_UNAVAILABLE: { status: 503, message: 'The task store is unavailable; try again shortly', retryAfterSeconds: 5 },
  SHUTTING_DOWN: { status: 503, message: 'The server is shutting down' },
} as const satisfies Record<string, ErrorEntry>;

export type ErrorCode = keyof typeof ERROR_REGISTRY;

export const ERROR_CODES = Object.keys(ERROR_REGISTRY) as ErrorCode[];

/**
 * Codes that were published and are no longer in use. They stay listed (docs/errors.md) so that
 * no new meaning is ever given to them.
 */
export const RETIRED_ERROR_CODES = {
  TARGET_FORBIDDEN:
    'Never raised. A target the address policy refuses at subscribe answers `VALIDATION_FAILED` ' +
    'with an issue on `httpRequest.url`, beside every other problem of the body.',
} as const;

export type { FieldIssue };

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly issues: readonly FieldIssue[];
  /** For RATE_LIMITED and the like: seconds until trying again makes sense. */
  retryAfterSeconds?: number;

  /**
   * `options.cause`: the failure underneath (a driver's error), for the log only; a client never
   * sees it.
   */
  constructor(code: ErrorCode, message?: string, issues: readonly FieldIssue[] = [], options?: { cause?: unknown }) {
    super(message ?? ERROR_REGISTRY[code].message, options);
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_REGISTRY[code].status;
    this.issues = issues;
    const entry: ErrorEntry = ERROR_REGISTRY[code];
    if (entry.retryAfterSeconds !== undefined) this.retryAfterSeconds = entry.retryAfterSeconds;
  }
}

/**
 * Why JSON did not parse, without quoting the body: parser messages quote the input (the whole of
 * it when short), and a body may hold a token or a secret header value.
 */
export function invalidJson(cause: unknown): AppError {
  if (cause instanceof RangeError) return new AppError('INVALID_JSON', 'The request body is not valid JSON: nested too deeply');
  const position = /position (\d+)/.exec(cause instanceof Error ? cause.message : '')?.[1];
  return new AppError('INVALID_JSON', `The request body is not valid JSON: syntax error${position ? ` at position ${position}` : ''}`);
}

/** A 400 listing every field problem at once, with a message that names each field. */
export function validationError(issues: readonly FieldIssue[]): AppError {
  const message = issues.map((i) => `${i.field}: ${i.message}`).join('; ');
  return new AppError('VALIDATION_FAILED', message, issues);
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}
