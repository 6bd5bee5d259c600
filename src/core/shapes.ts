/*
 * The shapes of the v1beta API, each declared once as a JSON Schema built with TypeBox: the
 * subscribe body, the effective task config, the views the API answers with, the error body and
 * the project bodies. Every TypeScript type of these shapes is `Static<>` of its schema; Fastify
 * validates requests and serialises answers from the same schemas (api/schemas.ts builds the route
 * schemas from them), and field lists are read from their `properties`. A field added here thus
 * reaches the validator, the serialiser, the types and those lists at once.
 *
 * The validation answers name ajv's errors keyword by keyword (api/validation-issues.ts), so each
 * schema must keep the keywords the API has always validated with. Where a TypeBox builder would
 * emit others (Type.Record emits `patternProperties`, which lets any other name through;
 * Type.Union emits `anyOf`, whose errors name no type), the schema is written out and typed with
 * Type.Unsafe. Guarded by test/http/subscribe-validation.test.ts and
 * test/adversarial/hostile-input.test.ts, which check the answers field by field.
 */
import Type, { type Static, type TSchema } from 'typebox';
import { ERROR_CODES } from './errors.js';
import { ID_LENGTH } from './ids.js';
import { ATTEMPT_LOG, FLOW_KEY_PATTERN, LIMITS, TAG_PATTERN } from './limits.js';
import { FLOW } from './flow.js';
import { ERROR_CLASSES, type ErrorClass } from './attempt-log.js';
import { BACKOFF_JITTERS } from './retry-policy.js';
import { HTTP_METHODS, TASK_STATES, TIMELINE_LABELS } from './task.js';
import { CATCH_UP_POLICIES, JITTER_MAX_MS, OVERLAP_POLICIES, SCHEDULE_STATES } from './schedule.js';

// ── Request bodies ───────────────────────────────────────────────────────────

const duration = () =>
  Type.Unsafe<number | string>({
    type: ['integer', 'string'],
    maxLength: 32,
    description: 'Milliseconds, or a duration string: "500ms", "10s", "5m", "1h", "2d"',
  });

const epochMs = () => Type.Integer({ minimum: 0, maximum: 8_640_000_000_000_000, description: 'Milliseconds since the Unix epoch (UTC)' });

/** An object of strings whose names match `namePattern` (and values `valuePattern`), at most 64 entries. */
const stringMap = (namePattern: string, valuePattern?: string) =>
  Type.Unsafe<Record<string, string>>({
    type: 'object',
    maxProperties: 64,
    propertyNames: { pattern: namePattern, minLength: 1, maxLength: LIMITS.nameLength },
    additionalProperties: valuePattern
      ? Type.String({ maxLength: LIMITS.valueLength, pattern: valuePattern })
      : Type.String({ maxLength: LIMITS.valueLength }),
  });

/** The request a task sends, as a subscribe gives it. */
export const HttpRequestBody = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: LIMITS.urlLength }),
    method: Type.Enum(HTTP_METHODS, { type: 'string' }),
    // Not empty, too, but core/subscription.ts says so: a minLength here counts the code points of
    // the whole body (ajv's ucs2length), a loop over every character on every subscribe.
    data: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9+/_-]*={0,2}$', description: 'Base64 body' })),
    params: Type.Optional(stringMap('^[A-Za-z0-9]+$')),
    // Header values: visible ASCII, space, tab and obs-text; never CR, LF or NUL.
    headers: Type.Optional(stringMap('^[A-Za-z0-9-]+$', '^[\\t\\x20-\\x7e\\x80-\\xff]*$')),
  },
  { additionalProperties: false },
);
export type HttpRequestBody = Static<typeof HttpRequestBody>;

// ── The task config ──────────────────────────────────────────────────────────

/** HTTP statuses a retry policy lists: the failures a target can answer (redirects are not followed). */
const statusList = (description: string) =>
  Type.Array(Type.Integer({ minimum: 300, maximum: 599 }), { minItems: 1, maxItems: LIMITS.statusListMax, uniqueItems: true, description });

/**
 * The retry policy as a task keeps it (core/retry-policy.ts applies it): opt-in, beside the seed's
 * retry fields, which keep their meaning. Durations in milliseconds; `maxRetryDurationMs` 0 means no cap.
 */
export const RetryPolicy = Type.Object({
  backoff: Type.Optional(
    Type.Object({
      baseMs: Type.Integer(),
      factor: Type.Number(),
      capMs: Type.Integer(),
      jitter: Type.Enum(BACKOFF_JITTERS, { type: 'string' }),
    }),
  ),
  retryStatuses: Type.Optional(Type.Array(Type.Integer())),
  finalStatuses: Type.Optional(Type.Array(Type.Integer())),
  honorRetryAfter: Type.Boolean(),
  retryAfterCapMs: Type.Integer(),
  maxRetryDurationMs: Type.Integer(),
});
export type RetryPolicy = Static<typeof RetryPolicy>;

/** The retry policy a subscribe may give (docs/api/subscribing.md): every field optional; durations also as strings. */
export const SubscribeRetryPolicy = Type.Object(
  {
    backoff: Type.Optional(
      Type.Object(
        {
          baseMs: Type.Optional(duration()),
          factor: Type.Optional(Type.Number({ minimum: 1, maximum: LIMITS.backoffFactorMax })),
          capMs: Type.Optional(duration()),
          jitter: Type.Optional(Type.Enum(BACKOFF_JITTERS, { type: 'string' })),
        },
        { additionalProperties: false },
      ),
    ),
    retryStatuses: Type.Optional(statusList('Only these statuses are retried; any other failing status ends the task')),
    finalStatuses: Type.Optional(statusList('These statuses end the task at once, retries left or not')),
    honorRetryAfter: Type.Optional(Type.Boolean({ description: 'Wait at least what Retry-After says on a 429 or 503 (default true)' })),
    retryAfterCapMs: Type.Optional(duration()),
    maxRetryDurationMs: Type.Optional(duration()),
  } satisfies { [K in keyof RetryPolicy]: TSchema },
  { additionalProperties: false },
);
export type SubscribeRetryPolicy = Static<typeof SubscribeRetryPolicy>;
/** What a callback may be sent for (core/callbacks.ts): an attempt succeeded, one failed, the task ended with no retries left. */
export const CALLBACK_EVENTS = ['success', 'failure', 'exhausted'] as const;
export type CallbackEvent = (typeof CALLBACK_EVENTS)[number];

/** Where the server POSTs a signed JSON about the task, and for which events. */
export const CallbackConfig = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: LIMITS.urlLength,
      description: 'http:// or https://; judged by the target guard as the task URL is',
    }),
    on: Type.Array(Type.Enum(CALLBACK_EVENTS, { type: 'string' }), { minItems: 1, maxItems: CALLBACK_EVENTS.length, uniqueItems: true }),
  },
  { additionalProperties: false },
);
export type CallbackConfig = Static<typeof CallbackConfig>;

/** The effective configuration: every field present, durations in milliseconds, 0 for "not set". */
export const TaskConfig = Type.Object({
  executionDelay: Type.Integer(),
  executionAt: Type.Integer(),
  retry: Type.Integer(),
  retryInterval: Type.Integer(),
  retryExponential: Type.Boolean(),
  retryAt: Type.Integer(),
  repeat: Type.Integer(),
  repeatInterval: Type.Integer(),
  repeatExponential: Type.Boolean(),
  repeatAt: Type.Integer(),
  timeout: Type.Integer(),
  retryPolicy: Type.Optional(RetryPolicy),
  callback: Type.Unsafe<CallbackConfig | null>({ anyOf: [CallbackConfig, { type: 'null' }], description: 'null when none was given' }),
});
export type TaskConfig = Static<typeof TaskConfig>;

/**
 * The config a subscribe may give: the fields of TaskConfig (the type says so), each optional;
 * durations also as strings. Bounds that need the clock or several fields are core/subscription.ts's.
 */
export const SubscribeConfig = Type.Object(
  {
    executionDelay: Type.Optional(duration()),
    executionAt: Type.Optional(epochMs()),
    retry: Type.Optional(Type.Integer({ minimum: 0, maximum: LIMITS.retryMax })),
    retryInterval: Type.Optional(duration()),
    retryExponential: Type.Optional(Type.Boolean()),
    retryAt: Type.Optional(epochMs()),
    repeat: Type.Optional(Type.Integer({ minimum: 0, maximum: LIMITS.repeatMax })),
    repeatInterval: Type.Optional(duration()),
    repeatExponential: Type.Optional(Type.Boolean()),
    repeatAt: Type.Optional(epochMs()),
    timeout: Type.Optional(duration()),
    retryPolicy: Type.Optional(SubscribeRetryPolicy),
    callback: Type.Optional(CallbackConfig),
  } satisfies { [K in keyof TaskConfig]: TSchema },
  { additionalProperties: false },
);
export type SubscribeConfig = Static<typeof SubscribeConfig>;

/** A task's labels: a listing filters on one of them. */
export const Tag = Type.String({
  pattern: TAG_PATTERN,
  description: '1-40 characters: a letter or digit first, then letters, digits, . _ : -',
});

/** A flow key: the project's limits for it (`PUT /v1beta/flow/:key`) decide when its tasks start. */
export const FlowKey = Type.String({
  pattern: FLOW_KEY_PATTERN,
  description: '1-64 characters: a letter or digit first, then letters, digits, . _ : -',
});

/** `POST /v1beta/subscribe`. */
export const SubscribeBody = Type.Object(
  {
    httpRequest: HttpRequestBody,
    config: Type.Optional(SubscribeConfig),
    tags: Type.Optional(Type.Array(Tag, { maxItems: LIMITS.tagCount, uniqueItems: true })),
    flowKey: Type.Optional(FlowKey),
  },
  { additionalProperties: false },
);
export type SubscribeBody = Static<typeof SubscribeBody>;

/** Most subscribe bodies one `POST /v1beta/subscribe/batch` may carry. */
export const BATCH_MAX_ITEMS = 1000;

/** `POST /v1beta/subscribe/batch`: 1 to BATCH_MAX_ITEMS subscribe bodies, each judged on its own. */
export const SubscribeBatchBody = Type.Array(SubscribeBody, { minItems: 1, maxItems: BATCH_MAX_ITEMS });
export type SubscribeBatchBody = Static<typeof SubscribeBatchBody>;

/**
 * `POST /v1beta/schedules`: a task of `httpRequest` with `config` (a subscribe's, less its first
 * execution time) at every instant of `cron` in `timezone`. Rules that need croner, the clock or
 * several fields are core/schedule-body.ts's.
 */
export const ScheduleBody = Type.Object(
  {
    cron: Type.String({
      minLength: 1,
      maxLength: 200,
      description: '5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first',
    }),
    timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'An IANA time zone (default UTC)' })),
    httpRequest: HttpRequestBody,
    config: Type.Optional(SubscribeConfig),
    overlap: Type.Optional(
      Type.Enum(OVERLAP_POLICIES, { type: 'string', description: "skip (default): no run while the last run's task is active" }),
    ),
    catchUp: Type.Optional(
      Type.Enum(CATCH_UP_POLICIES, {
        type: 'string',
        description: 'Runs missed while no server ran: none, the latest (default), all (bounded)',
      }),
    ),
    jitterMs: Type.Optional(
      Type.Integer({ minimum: 0, maximum: JITTER_MAX_MS, description: 'Each run executes up to this much after its instant' }),
    ),
    startAt: Type.Optional(epochMs()),
    endAt: Type.Optional(epochMs()),
    tags: Type.Optional(Type.Array(Tag, { maxItems: LIMITS.tagCount, uniqueItems: true })),
    flowKey: Type.Optional(FlowKey),
  },
  { additionalProperties: false },
);
export type ScheduleBody = Static<typeof ScheduleBody>;

/** `PATCH /v1beta/reschedule/:id`: exactly one of the two (core/subscription.ts resolveReschedule says so). */
export const RescheduleBody = Type.Object(
  { executionDelay: Type.Optional(duration()), executionAt: Type.Optional(epochMs()) },
  { additionalProperties: false },
);
export type RescheduleBody = Static<typeof RescheduleBody>;

/** `POST /v1beta/register`. */
export const RegisterBody = Type.Object(
  { email: Type.String({ minLength: 3, maxLength: LIMITS.emailLength }) },
  { additionalProperties: false },
);
export type RegisterBody = Static<typeof RegisterBody>;

const FlowRateShape = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: FLOW.rateLimitMax, description: 'Most starts in any window of periodMs' }),
    periodMs: Type.Integer({ minimum: FLOW.periodMsMin, maximum: FLOW.periodMsMax }),
  },
  { additionalProperties: false },
);

/** `PUT /v1beta/flow/:key`: the key's limits; one left out is no limit of that kind. */
export const FlowBody = Type.Object(
  {
    rate: Type.Optional(FlowRateShape),
    parallelism: Type.Optional(Type.Integer({ minimum: 1, maximum: FLOW.parallelismMax, description: 'Most tasks of the key in flight' })),
    ordered: Type.Optional(Type.Boolean({ description: 'Strict FIFO: the next task starts after the previous one finished' })),
  },
  { additionalProperties: false },
);
export type FlowBody = Static<typeof FlowBody>;

// ── Views: what the API answers ──────────────────────────────────────────────

/** A flow key's limits and use (`GET /v1beta/flow/:key`). */
export const FlowView = Type.Object({
  key: Type.String(),
  rate: Type.Unsafe<{ limit: number; periodMs: number } | null>({
    anyOf: [FlowRateShape, { type: 'null' }],
    description: 'At most `limit` starts in any window of `periodMs`; null: no rate',
  }),
  parallelism: Type.Unsafe<number | null>({ type: ['integer', 'null'], description: 'Most tasks in flight; null: no limit' }),
  ordered: Type.Boolean(),
  paused: Type.Boolean(),
  inFlight: Type.Integer({ description: "The key's tasks in flight now, on every node" }),
  waiting: Type.Integer({ description: "The key's due tasks held back by its limits" }),
});
export type FlowView = Static<typeof FlowView>;

/** `GET /v1beta/flow`: the project's keys with limits, by key. */
export const FlowListView = Type.Object({ flows: Type.Array(FlowView) });
export type FlowListView = Static<typeof FlowListView>;

/** The task as `subscribe` and `resume` answer it. */
export const QueuedView = Type.Object({
  id: Type.String({ minLength: ID_LENGTH, maxLength: ID_LENGTH }),
  state: Type.Enum(TASK_STATES, { type: 'string' }),
  statusCode: Type.Integer(),
  estimateStartAt: Type.Integer(),
  estimateExecAt: Type.Integer(),
  estimateEndAt: Type.Integer(),
  currentlyRetry: Type.Boolean(),
  currentlyRepeat: Type.Boolean(),
});
export type QueuedView = Static<typeof QueuedView>;

export const TaskUpdates = Type.Object({
  retryCount: Type.Integer({ description: 'Retries scheduled in the current run' }),
  retryLimit: Type.Integer({ description: 'How many retries a run may have' }),
  repeatCount: Type.Integer({ description: 'Repeats scheduled so far' }),
  repeatLimit: Type.Integer({ description: 'How many repeats the task may have' }),
  estimateNextRetryAt: Type.Integer({ description: 'When the next retry runs; 0 when the next execution is not one' }),
  estimateNextRepeatAt: Type.Integer({ description: 'When the next repeat runs; 0 when the next execution is not one' }),
  attempts: Type.Integer({ description: 'Requests sent to the target so far (not one refused before sending)' }),
  pausedTimeLeft: Type.Integer({ description: 'While PAUSED: the time that was left until the next execution' }),
});
export type TaskUpdates = Static<typeof TaskUpdates>;

/** Where the task sends its request: opened from the sealed request; never its query, headers, params or body. */
export const TargetView = Type.Object({
  method: Type.Enum(HTTP_METHODS, { type: 'string' }),
  url: Type.String({ description: 'The URL as subscribed without its query or fragment (a query may hold a secret)' }),
});
export type TargetView = Static<typeof TargetView>;

/** `GET /v1beta/queues/:id`: the queued fields, the effective config, the updates, the tags and the target. */
export const TaskView = Type.Object({
  ...QueuedView.properties,
  config: TaskConfig,
  updates: TaskUpdates,
  tags: Type.Array(Type.String()),
  flowKey: Type.String({ description: "The task's flow key; '' when none" }),
  target: TargetView,
  scheduleId: Type.Optional(Type.String({ description: 'The schedule whose run made the task; absent for a task subscribed directly' })),
});
export type TaskView = Static<typeof TaskView>;

/** A schedule, as every schedule route answers it: never the request's headers, params or body. */
export const ScheduleView = Type.Object({
  id: Type.String({ minLength: ID_LENGTH, maxLength: ID_LENGTH }),
  cron: Type.String(),
  timezone: Type.String(),
  state: Type.Enum(SCHEDULE_STATES, { type: 'string' }),
  nextRunAt: Type.Unsafe<number | null>({ type: ['integer', 'null'], description: "The next run's instant; null while PAUSED or ENDED" }),
  lastRunAt: Type.Unsafe<number | null>({ type: ['integer', 'null'], description: "The latest run's instant; null before the first" }),
  lastTaskId: Type.Unsafe<string | null>({ type: ['string', 'null'], description: "The latest run's task; null before the first" }),
  runs: Type.Integer({ description: 'Runs made so far' }),
  skipped: Type.Integer({ description: 'Runs skipped by the overlap policy or a full queue' }),
  overlap: Type.Enum(OVERLAP_POLICIES, { type: 'string' }),
  catchUp: Type.Enum(CATCH_UP_POLICIES, { type: 'string' }),
  jitterMs: Type.Integer(),
  startAt: Type.Unsafe<number | null>({ type: ['integer', 'null'] }),
  endAt: Type.Unsafe<number | null>({ type: ['integer', 'null'] }),
  createdAt: Type.Integer(),
  config: TaskConfig,
  tags: Type.Array(Type.String()),
  flowKey: Type.String({ description: "Every run's task carries this flow key; '' when none" }),
  target: TargetView,
});
export type ScheduleView = Static<typeof ScheduleView>;

/** `GET /v1beta/schedules`: a page of the project's schedules, newest first. */
export const ScheduleListView = Type.Object({
  schedules: Type.Array(ScheduleView),
  nextCursor: Type.Unsafe<string | null>({ type: ['string', 'null'], description: 'Where the next page starts; null at the end' }),
});
export type ScheduleListView = Static<typeof ScheduleListView>;

/** `GET /v1beta/queues`: a page of the project's tasks, newest first. */
export const TaskListView = Type.Object({
  tasks: Type.Array(TaskView),
  nextCursor: Type.Unsafe<string | null>({ type: ['string', 'null'], description: 'Where the next page starts; null at the end' }),
});
export type TaskListView = Static<typeof TaskListView>;

export const BULK_ACTIONS = ['pause', 'resume', 'unsubscribe', 'delete', 'replay'] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];

/** Tasks a bulk action names at most, and tasks it works on between two turns of the event loop. */
export const BULK = { idsMax: 1000, batch: 200 } as const;

/** `POST /v1beta/queues/bulk`: an action on the tasks named, or on those a filter selects (exactly one of them). */
export const BulkBody = Type.Object(
  {
    action: Type.Enum(BULK_ACTIONS, { type: 'string' }),
    ids: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: BULK.idsMax })),
    filter: Type.Optional(
      Type.Object(
        {
          state: Type.Optional(Type.Array(Type.Enum(TASK_STATES, { type: 'string' }), { minItems: 1, maxItems: TASK_STATES.length })),
          tag: Type.Optional(Tag),
          host: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
          schedule: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "A schedule's id: the tasks its runs made" })),
          flow: Type.Optional(FlowKey),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type BulkBody = Static<typeof BulkBody>;

/**
 * What a bulk action did: tasks changed (or replayed), not found, whose state forbids the action, that
 * kept changing meanwhile, and (replay) not replayed because the project's queue was full.
 */
export const BulkAnswer = Type.Object({
  done: Type.Integer(),
  notFound: Type.Integer(),
  notAllowed: Type.Integer(),
  busy: Type.Integer(),
  queueFull: Type.Integer(),
});
export type BulkAnswer = Static<typeof BulkAnswer>;

/** One entry of `GET /v1beta/queues/:id/timeline`. */
export const TimelineEntryView = Type.Object({
  label: Type.Enum(TIMELINE_LABELS, { type: 'string' }),
  description: Type.String(),
  createdAt: Type.Integer(),
  metadata: Type.Optional(
    Type.Unsafe<Record<string, string | number | boolean>>({
      type: 'object',
      additionalProperties: { type: ['integer', 'string', 'boolean'] },
    }),
  ),
});
export type TimelineEntryView = Static<typeof TimelineEntryView>;

export const TimelineView = Type.Array(TimelineEntryView);
export type TimelineView = Static<typeof TimelineView>;

/** One entry of `GET /v1beta/queues/:id/attempts` (core/attempt-log.ts). */
export const AttemptView = Type.Object({
  attempt: Type.Integer({ description: "The attempt's number: 1 for the task's first" }),
  startedAt: Type.Integer(),
  durationMs: Type.Integer(),
  statusCode: Type.Integer({ description: 'The status the target answered; 0 when it did not answer' }),
  errorClass: Type.Unsafe<ErrorClass | null>({
    type: ['string', 'null'],
    enum: [...ERROR_CLASSES, null],
    description: 'Why there was no answer; null when there was one',
  }),
  response: Type.String({ description: `The first ${ATTEMPT_LOG.excerptBytes} bytes of the answer's body, as text or base64` }),
  responseEncoding: Type.Enum(['utf8', 'base64'], { type: 'string' }),
});
export type AttemptView = Static<typeof AttemptView>;

export const AttemptsView = Type.Array(AttemptView);
export type AttemptsView = Static<typeof AttemptsView>;

/** The answer of pause, unsubscribe and delete: `{"response": value}`. */
export const ActionAnswer = <Value extends string>(value: Value) => Type.Object({ response: Type.Literal(value) });

/** `POST /v1beta/register`: the token and the signing secret are shown this once. */
export const RegisteredView = Type.Object({
  id: Type.String(),
  token: Type.String(),
  signingSecret: Type.String({ description: 'The secret every delivery is signed with (`whsec_…`, Standard Webhooks); shown this once' }),
});
export type RegisteredView = Static<typeof RegisteredView>;

/** `POST /v1beta/signing-secret`: the new secret, shown this once. */
export const SigningSecretView = Type.Object({
  signingSecret: Type.String({ description: 'The new secret (`whsec_…`); shown this once' }),
  previousValidUntil: Type.Union([Type.Integer(), Type.Null()], {
    description: 'Until when (ms since the epoch) deliveries are signed with the previous secret too; null when there was none',
  }),
});
export type SigningSecretView = Static<typeof SigningSecretView>;

/** `GET /v1beta/info`. */
export const InfoView = Type.Object({
  email: Type.String(),
  createdAt: Type.Integer(),
  taskInQueue: Type.Integer({ description: "The project's RUNNING and PAUSED tasks" }),
  taskInQueueLimit: Type.Integer(),
  as: Type.Enum(['DEV', 'GUEST'], { type: 'string' }),
});
export type InfoView = Static<typeof InfoView>;

/** One minute of `GET /v1beta/activity`. */
export const ActivityMinute = Type.Object({
  at: Type.Integer({ description: 'Start of the minute (ms since the epoch)' }),
  delivered: Type.Integer({ description: 'Attempts the target answered with a 2xx status' }),
  failed: Type.Integer({ description: 'Every other attempt outcome: another status, no answer, a refused target' }),
});
export type ActivityMinute = Static<typeof ActivityMinute>;

/** `GET /v1beta/activity`: the last 60 minutes, oldest first, one entry per minute. */
export const ActivityView = Type.Object({ minutes: Type.Array(ActivityMinute) });
export type ActivityView = Static<typeof ActivityView>;

/** One request the inbox received. */
export const InboxRequestView = Type.Object({
  id: Type.String({ minLength: ID_LENGTH, maxLength: ID_LENGTH }),
  receivedAt: Type.Integer(),
  method: Type.String(),
  path: Type.String({ description: 'The path with its query, as received' }),
  headers: Type.Unsafe<Record<string, string>>({ type: 'object', additionalProperties: { type: 'string' } }),
  body: Type.String({ description: 'The body as received (up to the inbox cap), as text or base64' }),
  bodyEncoding: Type.Enum(['utf8', 'base64'], { type: 'string' }),
  truncated: Type.Boolean({ description: 'The body was longer than the inbox keeps; `body` is its start' }),
});
export type InboxRequestView = Static<typeof InboxRequestView>;

/** `GET /v1beta/inbox`: where tasks of this project can send, and what arrived there, newest first. */
export const InboxView = Type.Object({
  url: Type.String({ description: 'The inbox URL a task of this project can target' }),
  requests: Type.Array(InboxRequestView),
});
export type InboxView = Static<typeof InboxView>;

// ── Circuit breakers ─────────────────────────────────────────────────────────

/** Bounds of a breaker policy (core/circuit.ts). */
export const BREAKER_LIMITS = { thresholdMax: 1_000, openMsMin: 100, openMsMax: 7 * 86_400_000 } as const;

const openTime = (description: string) =>
  Type.Integer({ minimum: BREAKER_LIMITS.openMsMin, maximum: BREAKER_LIMITS.openMsMax, description });

/** `PUT /v1beta/breakers/policy`: turns circuit breakers on for the project's target hosts. */
export const BreakerPolicyBody = Type.Object(
  {
    failureThreshold: Type.Integer({
      minimum: 1,
      maximum: BREAKER_LIMITS.thresholdMax,
      description: 'Failures in a row (no answer, or a status the task would retry) that open a circuit',
    }),
    openMs: openTime('How long a circuit stays open the first time (ms)'),
    maxOpenMs: openTime('The longest it stays open (ms, at least openMs): the time doubles each time a probe fails'),
    callbackUrl: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: LIMITS.urlLength,
        description: 'Where a signed POST goes when a circuit opens; judged by the target guard as a task URL is',
      }),
    ),
  },
  { additionalProperties: false },
);
export type BreakerPolicyBody = Static<typeof BreakerPolicyBody>;

/** A project's breaker policy. */
export const BreakerPolicyView = Type.Object({
  failureThreshold: Type.Integer(),
  openMs: Type.Integer(),
  maxOpenMs: Type.Integer(),
  callbackUrl: Type.Unsafe<string | null>({ type: ['string', 'null'], description: 'null when none was given' }),
});
export type BreakerPolicyView = Static<typeof BreakerPolicyView>;

/** One circuit: closed (failures counted), open (its tasks wait) or half-open (one probe task under way). */
export const CircuitView = Type.Object({
  kind: Type.Enum(['host', 'flow'], { type: 'string' }),
  key: Type.String({ description: "The host's tag (a keyed digest of its name) or the flow key: the `:key` of this circuit's routes" }),
  host: Type.Unsafe<string | null>({ type: ['string', 'null'], description: 'The target host name (kind host), when known' }),
  state: Type.Enum(['closed', 'open', 'half-open'], { type: 'string' }),
  failures: Type.Integer({ description: 'Failures in a row that were counted' }),
  openMs: Type.Integer({ description: 'The open time in force (ms); 0 while it never opened' }),
  openedAt: Type.Integer({ description: 'When it last opened from closed (ms); 0 while it never did' }),
  retryAt: Type.Integer({ description: 'Open: when it lets a probe through. Half-open: until when the probe holds it. 0 while closed' }),
  opens: Type.Integer({ description: 'Times it opened since it was last closed (failed probes included)' }),
});
export type CircuitView = Static<typeof CircuitView>;

/** `GET /v1beta/breakers`: the policy (null: breakers off) and the circuits that are not closed and clean. */
export const BreakersView = Type.Object({
  policy: Type.Unsafe<BreakerPolicyView | null>({ anyOf: [BreakerPolicyView, { type: 'null' }] }),
  circuits: Type.Array(CircuitView),
});
export type BreakersView = Static<typeof BreakersView>;

// ── Errors ───────────────────────────────────────────────────────────────────

/** One problem with one field of a request, e.g. `{field: "config.retry", message: "must be an integer"}`. */
export const FieldIssue = Type.Object({ field: Type.String(), message: Type.String() });
export type FieldIssue = Static<typeof FieldIssue>;

/** Every error answer (docs/errors.md); `issues` only for field problems. */
export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  code: Type.Enum(ERROR_CODES, { type: 'string' }),
  error: Type.String(),
  message: Type.String(),
  issues: Type.Optional(Type.Array(FieldIssue)),
});
export type ErrorBody = Static<typeof ErrorBody>;

/**
 * One item of the `POST /v1beta/subscribe/batch` answer: `{statusCode: 201, task}` when it was
 * queued, else `{statusCode, error}` with the error the single subscribe answers for that body.
 * One object with two optional fields rather than a union: its serialiser stays a plain one.
 */
export const BatchItemResult = Type.Object({
  statusCode: Type.Integer(),
  task: Type.Optional(QueuedView),
  error: Type.Optional(ErrorBody),
});
export type BatchItemResult = Static<typeof BatchItemResult>;

export const BatchResults = Type.Array(BatchItemResult);
