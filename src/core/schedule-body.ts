/*
 * The semantic half of validating `POST /v1beta/schedules` (the schema in shapes.ts has checked
 * types and bounds): the cron expression and time zone, start and end, and the request and config
 * judged exactly as a subscribe's (core/subscription.ts), less the fields that place one execution
 * in time. Every problem is reported at once.
 */
import { cronProblem, isTimeZone } from './cron.js';
import { type FieldIssue, validationError } from './errors.js';
import { type Schedule, nextInstant } from './schedule.js';
import type { ScheduleBody } from './shapes.js';
import { type ResolvedSubscription, resolveSubscription, subscriptionIssues } from './subscription.js';
import type { TargetPolicy } from './target-policy.js';

/** Config fields a schedule may not give: each run's time is its instant (and a retry's or repeat's, relative to it). */
const TIMED_FIELDS = ['executionDelay', 'executionAt', 'retryAt', 'repeatAt'] as const;

export interface ResolvedSchedule {
  request: ResolvedSubscription['request'];
  config: ResolvedSubscription['config'];
  /** The schedule's fields the body decides (not its id, project, sealed request or host). */
  fields: Omit<Schedule, 'id' | 'projectId' | 'request' | 'hostTag' | 'config'>;
}

/** The schedule a body asks for, or VALIDATION_FAILED with every issue. */
export function resolveSchedule(body: ScheduleBody, now: number, policy: TargetPolicy, projectId: string): ResolvedSchedule {
  const issues: FieldIssue[] = [];
  for (const name of TIMED_FIELDS) {
    if (body.config?.[name] !== undefined)
      issues.push({ field: `config.${name}`, message: 'is not allowed in a schedule: each run executes at its instant' });
  }
  const cronIssue = cronProblem(body.cron);
  if (cronIssue) issues.push({ field: 'cron', message: cronIssue });
  const timezone = body.timezone ?? 'UTC';
  if (!isTimeZone(timezone)) issues.push({ field: 'timezone', message: 'must be an IANA time zone, e.g. UTC or Europe/Berlin' });
  const startAt = body.startAt ?? 0;
  const endAt = body.endAt ?? 0;
  if (endAt > 0 && endAt <= Math.max(now, startAt)) issues.push({ field: 'endAt', message: 'must be in the future and after startAt' });
  const subscription = { httpRequest: body.httpRequest, ...(body.config ? { config: body.config } : {}) };
  issues.push(...subscriptionIssues(subscription, now, policy, projectId).filter((i) => !issues.some((j) => j.field === i.field)));
  const spec = { cron: body.cron, timezone, startAt, endAt };
  const first = issues.length === 0 ? nextInstant(spec, now) : 0;
  if (issues.length === 0 && first === 0) issues.push({ field: 'cron', message: 'has no instant between now (or startAt) and endAt' });
  if (issues.length > 0) throw validationError(issues);
  const { request, config } = resolveSubscription(subscription, now, policy, projectId);
  return {
    request,
    config,
    fields: {
      ...spec,
      tags: body.tags ?? [],
      flowKey: body.flowKey ?? '',
      overlap: body.overlap ?? 'skip',
      catchUp: body.catchUp ?? 'latest',
      jitterMs: body.jitterMs ?? 0,
      createdAt: now,
      state: 'ACTIVE',
      nextRunAt: first,
      lastRunAt: 0,
      lastTaskId: '',
      runs: 0,
      skipped: 0,
    },
  };
}
