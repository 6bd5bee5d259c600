/*
 * The semantic half of validating `POST /v1beta/subscribe`: the HTTP schema (shapes.ts) has already
 * checked types, lengths, patterns and unknown fields; here come the rules that need parsing, the
 * clock or several fields at once. Every problem is reported, each naming its field.
 */
import { type FieldIssue, validationError } from './errors.js';
import { parseDuration } from './durations.js';
import { FORBIDDEN_HEADERS, LIMITS, RESERVED_HEADER_PREFIX, SIGNATURE_HEADERS } from './limits.js';
import { RETRY_POLICY_DEFAULTS } from './retry-policy.js';
import type {
  HttpRequestBody,
  RescheduleBody,
  RetryPolicy,
  SubscribeBody,
  SubscribeConfig,
  SubscribeRetryPolicy,
  TaskConfig,
} from './shapes.js';
import { portOf, type TargetPolicy } from './target-policy.js';
import { firstExecAtOf } from './task-machine.js';
import type { HttpRequestSpec } from './task.js';

export type { SubscribeBody };

/** The defaults of every config field a subscribe leaves out (docs/api/subscribing.md lists them). */
export const DEFAULT_CONFIG: TaskConfig = {
  executionDelay: 1,
  executionAt: 0,
  retry: 0,
  retryInterval: 1_000,
  retryExponential: true,
  retryAt: 0,
  repeat: 0,
  repeatInterval: 1_000,
  repeatExponential: true,
  repeatAt: 0,
  timeout: 300_000,
  callback: null,
};

export interface ResolvedSubscription {
  request: HttpRequestSpec;
  config: TaskConfig;
  firstExecAt: number;
}

/**
 * The task a subscribe body asks for, or VALIDATION_FAILED with every issue. `projectId`: the
 * subscriber, whose own inbox on this server its tasks may target (TargetPolicy.ownInbox); left
 * out, no inbox is allowed.
 */
export function resolveSubscription(body: SubscribeBody, now: number, policy: TargetPolicy, projectId?: string): ResolvedSubscription {
  const issues: FieldIssue[] = [];
  const request = resolveRequest(body.httpRequest, policy, issues, projectId);
  const { config, firstExecAt } = resolveConfig(body.config ?? {}, now, issues);
  callbackIssues(body.config?.callback, policy, issues);
  if (issues.length > 0) throw validationError(issues);
  return { request, config, firstExecAt };
}

/** A body of which only the fields that passed the schema are kept (see api: every issue at once). */
export interface PartialSubscribeBody {
  httpRequest?: Partial<HttpRequestBody>;
  config?: SubscribeConfig;
}

/**
 * The semantic issues of the fields that are present, for a body the schema already refused: the
 * answer then names every problem at once, not the schema's first and these on the next try.
 */
export function subscriptionIssues(body: PartialSubscribeBody, now: number, policy: TargetPolicy, projectId?: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  resolveRequest(body.httpRequest ?? {}, policy, issues, projectId);
  resolveConfig(body.config ?? {}, now, issues);
  callbackIssues(body.config?.callback, policy, issues);
  return issues;
}

/** The callback URL is judged as the task's own URL is (its inbox aside: a callback never targets an inbox). */
function callbackIssues(callback: SubscribeConfig['callback'], policy: TargetPolicy, issues: FieldIssue[]): void {
  if (callback?.url === undefined) return;
  const problem = callbackUrlProblem(callback.url, policy);
  if (problem) issues.push({ field: 'config.callback.url', message: problem });
}

/** What is wrong with a callback URL (a task's, a breaker policy's), or null: judged as a task URL is, never an inbox. */
export function callbackUrlProblem(url: string, policy: TargetPolicy): string | null {
  return targetUrlProblem(url, policy, 'a callback is signed with the project secret instead');
}

/**
 * What is wrong with a URL the server is to send requests to, or null: http(s) only, no
 * credentials (`credentialsHint` says where they belong), a host, and a literal address the policy
 * allows. `inboxOf`: the project whose own inbox on this server the URL may name.
 */
function targetUrlProblem(raw: string, policy: TargetPolicy, credentialsHint: string, inboxOf?: string): string | null {
  const url = URL.canParse(raw) ? new URL(raw) : null;
  if (!url) return 'must be an absolute http:// or https:// URL';
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must start with http:// or https://';
  if (url.username !== '' || url.password !== '') return `must not hold credentials; ${credentialsHint}`;
  if (url.hostname === '') return 'must name a host';
  if (inboxOf !== undefined && policy.ownInbox(url, inboxOf)) return null;
  const refused = policy.refuseLiteralHost(url.hostname, portOf(url));
  return refused ? `target refused: ${refused}` : null;
}

function resolveRequest(input: Partial<HttpRequestBody>, policy: TargetPolicy, issues: FieldIssue[], projectId?: string): HttpRequestSpec {
  if (input.url !== undefined) {
    const problem = targetUrlProblem(input.url, policy, 'send them in httpRequest.headers', projectId);
    if (problem) issues.push({ field: 'httpRequest.url', message: problem });
  }

  const headers = input.headers;
  if (headers) {
    const seen = new Set<string>();
    for (const name of Object.keys(headers)) {
      const lower = name.toLowerCase();
      const field = `httpRequest.headers.${name}`;
      if (FORBIDDEN_HEADERS.has(lower)) {
        issues.push({ field, message: 'is set by the server for the connection and may not be given' });
      } else if (lower.startsWith(RESERVED_HEADER_PREFIX)) {
        issues.push({ field, message: `headers starting with ${RESERVED_HEADER_PREFIX} are set by the server` });
      } else if (SIGNATURE_HEADERS.has(lower)) {
        issues.push({ field, message: 'is set by the server: every attempt is signed (webhook-id, webhook-timestamp, webhook-signature)' });
      } else if (seen.has(lower)) {
        issues.push({ field, message: 'is given twice (header names are case-insensitive)' });
      }
      seen.add(lower);
    }
  }

  if (input.data === '') {
    issues.push({ field: 'httpRequest.data', message: 'must not be empty' });
  } else if (input.data !== undefined && unpaddedLength(input.data) % 4 === 1) {
    issues.push({ field: 'httpRequest.data', message: 'must be a valid base64 string' });
  }

  const request: HttpRequestSpec = { url: input.url ?? '', method: input.method ?? 'POST' };
  // DELETE and GET carry no body: the original ignored `data` for DELETE, and so does this for both.
  if (input.data !== undefined && input.method !== 'DELETE' && input.method !== 'GET') request.data = input.data;
  if (input.params && Object.keys(input.params).length > 0) request.params = { ...input.params };
  if (headers && Object.keys(headers).length > 0) request.headers = { ...headers };
  return request;
}

/** The length of base64 text without its trailing `=`: counted from the end (a regex would scan the whole body). */
function unpaddedLength(data: string): number {
  let length = data.length;
  while (length > 0 && data.charCodeAt(length - 1) === 0x3d) length--;
  return length;
}

function resolveConfig(input: SubscribeConfig, now: number, issues: FieldIssue[]): { config: TaskConfig; firstExecAt: number } {
  const config: TaskConfig = { ...DEFAULT_CONFIG };
  const horizon = now + LIMITS.scheduleAheadMax;

  const duration = (name: 'executionDelay' | 'retryInterval' | 'repeatInterval' | 'timeout', min: number, max: number): void => {
    const ms = boundedDuration(input[name], `config.${name}`, min, max, issues);
    if (ms !== undefined) config[name] = ms;
  };
  duration('executionDelay', LIMITS.executionDelayMin, LIMITS.scheduleAheadMax);
  duration('retryInterval', LIMITS.intervalMin, LIMITS.intervalMax);
  duration('repeatInterval', LIMITS.intervalMin, LIMITS.intervalMax);
  duration('timeout', LIMITS.timeoutMin, LIMITS.timeoutMax);

  if (input.callback !== undefined) config.callback = { url: input.callback.url, on: [...input.callback.on] };
  if (input.retry !== undefined) config.retry = input.retry;
  if (input.repeat !== undefined) config.repeat = input.repeat;
  if (input.retryExponential !== undefined) config.retryExponential = input.retryExponential;
  if (input.repeatExponential !== undefined) config.repeatExponential = input.repeatExponential;

  const executionAt = futureTime(input.executionAt, 'config.executionAt', now, issues);
  if (executionAt !== undefined) config.executionAt = executionAt;
  const firstExecAt = firstExecAtOf(config, now);

  const absolute = (name: 'retryAt' | 'repeatAt', count: 'retry' | 'repeat'): void => {
    const at = input[name];
    if (at === undefined) return;
    if (at <= firstExecAt) {
      issues.push({ field: `config.${name}`, message: `must be after the first execution at ${firstExecAt}` });
      return;
    }
    if (at > horizon) {
      issues.push({ field: `config.${name}`, message: `must be at most ${LIMITS.scheduleAheadMax} ms ahead` });
      return;
    }
    if (input[count] !== undefined && input[count] !== 1) {
      issues.push({ field: `config.${count}`, message: `must be 1 or left out when config.${name} is set` });
      return;
    }
    config[name] = at;
    config[count] = 1;
  };
  absolute('retryAt', 'retry');
  absolute('repeatAt', 'repeat');

  if (input.retryPolicy !== undefined) {
    const policy = resolveRetryPolicy(input.retryPolicy, config.retryInterval, issues);
    if (policy.backoff && input.retryAt !== undefined) {
      issues.push({
        field: 'config.retryPolicy.backoff',
        message: 'must be left out when config.retryAt is set (a retry at a set time has no backoff)',
      });
    }
    config.retryPolicy = policy;
  }

  return { config, firstExecAt };
}

/** The effective retry policy a subscribe's `config.retryPolicy` asks for, its defaults filled in (retry-policy.ts). */
function resolveRetryPolicy(input: SubscribeRetryPolicy, retryInterval: number, issues: FieldIssue[]): RetryPolicy {
  const at = (name: string): string => `config.retryPolicy.${name}`;
  const d = RETRY_POLICY_DEFAULTS;
  const policy: RetryPolicy = {
    honorRetryAfter: input.honorRetryAfter ?? d.honorRetryAfter,
    retryAfterCapMs: boundedDuration(input.retryAfterCapMs, at('retryAfterCapMs'), 0, LIMITS.intervalMax, issues) ?? d.retryAfterCapMs,
    maxRetryDurationMs:
      boundedDuration(input.maxRetryDurationMs, at('maxRetryDurationMs'), LIMITS.intervalMin, LIMITS.scheduleAheadMax, issues) ??
      d.maxRetryDurationMs,
  };
  if (input.backoff) {
    const baseMs =
      boundedDuration(input.backoff.baseMs, at('backoff.baseMs'), LIMITS.intervalMin, LIMITS.intervalMax, issues) ?? retryInterval;
    const capMs = boundedDuration(input.backoff.capMs, at('backoff.capMs'), LIMITS.intervalMin, LIMITS.intervalMax, issues) ?? d.capMs;
    if (capMs < baseMs) issues.push({ field: at('backoff.capMs'), message: `must be at least backoff.baseMs (${baseMs} ms)` });
    policy.backoff = { baseMs, factor: input.backoff.factor ?? d.factor, capMs, jitter: input.backoff.jitter ?? d.jitter };
  }
  if (input.retryStatuses) policy.retryStatuses = [...input.retryStatuses];
  if (input.finalStatuses) {
    policy.finalStatuses = [...input.finalStatuses];
    const both = input.finalStatuses.filter((status) => input.retryStatuses?.includes(status));
    if (both.length > 0)
      issues.push({ field: at('finalStatuses'), message: `must not name a status retryStatuses names (${both.join(', ')})` });
  }
  return policy;
}

/** A duration given as `raw` (absent: undefined), in milliseconds if it parses and is within bounds; else an issue. */
function boundedDuration(
  raw: number | string | undefined,
  field: string,
  min: number,
  max: number,
  issues: FieldIssue[],
): number | undefined {
  if (raw === undefined) return undefined;
  const parsed = parseDuration(raw);
  if (!parsed.ok) {
    issues.push({ field, message: parsed.message });
  } else if (parsed.ms < min || parsed.ms > max) {
    issues.push({ field, message: `must be between ${min} and ${max} milliseconds` });
  } else {
    return parsed.ms;
  }
  return undefined;
}

/** An execution time given as `at` (absent: undefined), if it is in the future and within the schedule horizon; else an issue. */
function futureTime(at: number | undefined, field: string, now: number, issues: FieldIssue[]): number | undefined {
  if (at === undefined) return undefined;
  if (at <= now) {
    issues.push({ field, message: `must be in the future (now is ${now} ms since the epoch)` });
  } else if (at > now + LIMITS.scheduleAheadMax) {
    issues.push({ field, message: `must be at most ${LIMITS.scheduleAheadMax} ms ahead` });
  } else {
    return at;
  }
  return undefined;
}

/**
 * When a `PATCH /v1beta/reschedule/:id` moves the next execution: exactly one of `executionDelay`
 * (from now) and `executionAt`, within the bounds a subscribe's first execution has.
 */
export function resolveReschedule(body: RescheduleBody, now: number): number {
  const issues: FieldIssue[] = [];
  const given = (['executionDelay', 'executionAt'] as const).filter((name) => body[name] !== undefined);
  if (given.length !== 1) {
    throw validationError([{ field: 'body', message: 'must give exactly one of executionDelay and executionAt' }]);
  }
  const delay = boundedDuration(body.executionDelay, 'executionDelay', LIMITS.executionDelayMin, LIMITS.scheduleAheadMax, issues);
  const at = futureTime(body.executionAt, 'executionAt', now, issues);
  if (issues.length > 0) throw validationError(issues);
  return at ?? now + delay!;
}
