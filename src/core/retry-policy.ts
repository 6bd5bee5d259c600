/*
 * Retries that listen to the target: the opt-in `config.retryPolicy` (shapes.ts RetryPolicy). A task
 * without one keeps the seed's rules (task-machine.ts nextRetryAt) and ignores everything here.
 *
 * With a policy, a failed attempt (not one refused before sending) is judged in this order:
 *   1. final: the target's answer carries STOP_RETRY_HEADER: true, or its status is in
 *      `finalStatuses`, or `retryStatuses` is given and the status is not in it -> ERROR at once.
 *      An attempt without an answer (timeout, connection refused) is never final here.
 *   2. the next retry's time: `backoff` when given (min(capMs, baseMs × factor^(n-1)), with full
 *      jitter a uniform draw from 0 to that), else the seed's interval rule; then, on a 429 or 503
 *      with `honorRetryAfter`, no earlier than its Retry-After (seconds or an HTTP date) capped at
 *      `retryAfterCapMs`. A retry pinned by `retryAt` keeps its time.
 *   3. `maxRetryDurationMs`: a retry that would start later than that after the run's first
 *      failure (Task.retrySince) is not scheduled -> ERROR.
 * Every function is pure; randomness comes from the caller (the dispatcher's source, seeded in tests).
 */
import { LIMITS } from './limits.js';
import type { RetryPolicy, TaskConfig } from './shapes.js';

/** Jitter of a backoff: `full` waits a random time from 0 to the computed delay, `none` the delay itself. */
export const BACKOFF_JITTERS = ['full', 'none'] as const;

/** A target answers with this header set to `true` to stop the task's retries (docs/api/subscribing.md). */
export const STOP_RETRY_HEADER = 'X-Kuueri-Tasks-Stop-Retry';

/** A source of numbers in [0, 1): Math.random in production, seeded in tests. */
export type Random = () => number;

/** Statuses whose Retry-After is honoured. */
const RETRY_AFTER_STATUSES = new Set([429, 503]);

/** What the policy makes of a failed attempt that got an answer (or none): the reason it is final, or null. */
export function finalReason(policy: RetryPolicy, statusCode: number, stopRetry: boolean): string | null {
  if (stopRetry) return `the target asked not to retry (${STOP_RETRY_HEADER})`;
  if (statusCode <= 0) return null;
  if (policy.finalStatuses?.includes(statusCode)) return `status code ${statusCode} is final (retryPolicy.finalStatuses)`;
  if (policy.retryStatuses && !policy.retryStatuses.includes(statusCode))
    return `status code ${statusCode} is not retried (retryPolicy.retryStatuses)`;
  return null;
}

/** The n-th retry's delay (n from 1) under `backoff`: exponential, capped, with full jitter when asked. */
export function backoffDelay(backoff: NonNullable<RetryPolicy['backoff']>, n: number, random: Random): number {
  const exact = Math.min(backoff.capMs, backoff.baseMs * backoff.factor ** (n - 1));
  const delay = Number.isFinite(exact) ? exact : backoff.capMs;
  return Math.floor(backoff.jitter === 'full' ? random() * delay : delay);
}

/**
 * A Retry-After value as a delay in ms from `now`: delay-seconds, or an HTTP date (a date past is
 * 0). Null when it is neither.
 */
export function parseRetryAfter(value: string, now: number): number | null {
  const text = value.trim();
  if (/^[0-9]{1,10}$/.test(text)) return Number(text) * 1000;
  // An HTTP date always names its weekday and GMT; Date.parse alone accepts far looser text.
  if (!/^[A-Za-z]{3}, .+ GMT$/.test(text)) return null;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** What the next retry waits for beyond the policy's own delay: the target's Retry-After, capped; 0 when none applies. */
export function retryAfterDelay(policy: RetryPolicy, statusCode: number, retryAfter: string | undefined, now: number): number {
  if (!policy.honorRetryAfter || retryAfter === undefined || !RETRY_AFTER_STATUSES.has(statusCode)) return 0;
  const delay = parseRetryAfter(retryAfter, now);
  return delay === null ? 0 : Math.min(delay, policy.retryAfterCapMs);
}

/** What a failed attempt tells the retry rules: its status, the target's Retry-After and stop header. */
export interface RetrySignals {
  statusCode: number;
  retryAfter?: string;
  stopRetry?: boolean;
}

/**
 * When the n-th retry runs under `policy`, given `seedAt`, the time the seed's rules give
 * (task-machine.ts nextRetryAt; null when a pinned retryAt has passed, which a policy keeps).
 */
export function policyRetryAt(
  policy: RetryPolicy,
  seedAt: number | null,
  pinned: boolean,
  signals: RetrySignals,
  n: number,
  now: number,
  random: Random,
): number | null {
  if (seedAt === null || pinned) return seedAt;
  const own = policy.backoff ? now + backoffDelay(policy.backoff, n, random) : seedAt;
  return Math.max(own, now + retryAfterDelay(policy, signals.statusCode, signals.retryAfter, now));
}

/** True when a retry at `at` would start past the policy's time cap, counted from the run's first failure. */
export function pastRetryDuration(config: TaskConfig, since: number, at: number): boolean {
  const cap = config.retryPolicy?.maxRetryDurationMs ?? 0;
  return cap > 0 && at - since > cap;
}

// ── Stored policies ──────────────────────────────────────────────────────────

const isInt = (value: unknown): value is number => Number.isSafeInteger(value);
const isStatusList = (value: unknown): value is number[] => Array.isArray(value) && value.every((s) => isInt(s) && s >= 100 && s <= 599);

/** A stored policy, checked (a stored record is input too); null when it is not one. */
export function checkRetryPolicy(value: unknown): RetryPolicy | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  const known = new Set(['backoff', 'retryStatuses', 'finalStatuses', 'honorRetryAfter', 'retryAfterCapMs', 'maxRetryDurationMs']);
  if (Object.keys(v).some((key) => !known.has(key))) return null;
  if (typeof v.honorRetryAfter !== 'boolean' || !isInt(v.retryAfterCapMs) || !isInt(v.maxRetryDurationMs)) return null;
  if (v.retryStatuses !== undefined && !isStatusList(v.retryStatuses)) return null;
  if (v.finalStatuses !== undefined && !isStatusList(v.finalStatuses)) return null;
  if (v.backoff !== undefined) {
    const b = v.backoff as Record<string, unknown> | null;
    if (typeof b !== 'object' || b === null || Object.keys(b).length !== 4) return null;
    const jitter = (BACKOFF_JITTERS as readonly unknown[]).includes(b.jitter);
    if (!isInt(b.baseMs) || !isInt(b.capMs) || typeof b.factor !== 'number' || !(b.factor >= 1) || !jitter) return null;
  }
  return value as RetryPolicy;
}

/** Defaults of a policy's fields a subscribe leaves out (docs/api/subscribing.md). */
export const RETRY_POLICY_DEFAULTS = {
  factor: 2,
  capMs: LIMITS.retryCapDefault,
  jitter: 'full',
  honorRetryAfter: true,
  retryAfterCapMs: LIMITS.retryCapDefault,
  maxRetryDurationMs: 0,
} as const;
