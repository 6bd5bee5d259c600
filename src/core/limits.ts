/*
 * Every limit on a subscribed task, in one place: the HTTP schema and the semantic checks in
 * `subscription.ts` both read these, and docs/api/subscribing.md lists them.
 */

const DAY = 86_400_000;

export const LIMITS = {
  urlLength: 2048,
  headerCount: 64,
  paramCount: 64,
  nameLength: 64,
  valueLength: 1024,
  retryMax: 10_000,
  repeatMax: 16,
  executionDelayMin: 1,
  intervalMin: 1_000,
  intervalMax: 30 * DAY,
  timeoutMin: 1,
  timeoutMax: 600_000,
  /** How far ahead any execution may be scheduled. */
  scheduleAheadMax: 365 * DAY,
  emailLength: 254,
  /** Tags on one task. */
  tagCount: 10,
  /** Statuses in one of a retry policy's lists. */
  statusListMax: 50,
  /** A backoff's factor at most. */
  backoffFactorMax: 10,
  /** What a retry policy's backoff cap and Retry-After cap default to. */
  retryCapDefault: 3_600_000,
} as const;

/**
 * The attempt log (core/attempt-log.ts): the latest `maxEntries` attempts of a task are kept, each
 * with the first `excerptBytes` of the answer; one page holds at most `pageMax` of them.
 */
export const ATTEMPT_LOG = {
  maxEntries: 50,
  excerptBytes: 1024,
  pageMax: 50,
} as const;

/** A tag: a letter or digit, then up to 39 of letters, digits and `.`, `_`, `:`, `-` (never a space or a comma). */
export const TAG_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,39}$';
/** A flow key (core/flow.ts): like a tag, up to 64 characters. */
export const FLOW_KEY_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$';

/** Headers a user may not set: they belong to the connection or would lie about the body. */
export const FORBIDDEN_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'proxy-connection',
  'expect',
  'http2-settings',
]);

/** Headers the server sets on every attempt; a user's value would be overwritten, so it is refused. */
export const RESERVED_HEADER_PREFIX = 'x-kuueri-tasks-';

/** The Standard Webhooks headers the server signs every attempt with (core/signing.ts); a user's value is refused. */
export const SIGNATURE_HEADERS: ReadonlySet<string> = new Set(['webhook-id', 'webhook-timestamp', 'webhook-signature']);
