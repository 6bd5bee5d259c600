/*
 * What `POST /v1beta/subscribe` and each item of `POST /v1beta/subscribe/batch` share: the issues
 * of a body the schema refused (the schema's and the semantic ones, every problem at once), and
 * the new task a valid body makes.
 */
import type { FieldIssue } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { remembered } from '../core/remembered.js';
import type { SubscribeBody } from '../core/shapes.js';
import { resolveSubscription, subscriptionIssues } from '../core/subscription.js';
import type { Task } from '../core/task.js';
import { createTask } from '../core/task-machine.js';
import type { RouteContext } from './context.js';
import { validPart } from './partial-body.js';
import { type SchemaValidationFailure, validationIssues } from './validation-issues.js';

/** The host name of a URL resolveSubscription accepted; kept for the last URLs seen, which a batch's tasks mostly share. */
const hostnameOf = remembered((url: string): string => new URL(url).hostname, 1_000);

/** Every issue of a body the schema refused: the schema's, and the semantic ones of the fields that passed it. */
export function subscribeIssues(
  body: unknown,
  failure: SchemaValidationFailure,
  projectId: string,
  now: number,
  ctx: RouteContext,
): FieldIssue[] {
  const shape = validationIssues(failure);
  const semantic = subscriptionIssues(
    validPart(
      body,
      shape.map((i) => i.field),
    ),
    now,
    ctx.policy,
    projectId,
  );
  return [...shape, ...semantic.filter((s) => !shape.some((i) => i.field === s.field))];
}

/**
 * The task a body the schema accepted makes: its request sealed, RUNNING until its first
 * execution. Throws VALIDATION_FAILED for the semantic issues. `hostTags` keeps the host tags
 * already computed (a keyed digest each), for a batch whose tasks mostly share a few hosts.
 */
export function newTask(body: SubscribeBody, projectId: string, now: number, ctx: RouteContext, hostTags?: Map<string, string>): Task {
  const resolved = resolveSubscription(body, now, ctx.policy, projectId);
  const id = newId(now);
  const host = hostnameOf(resolved.request.url);
  let hostTag = hostTags?.get(host);
  if (hostTag === undefined) {
    hostTag = ctx.cipher.hostTag(host);
    hostTags?.set(host, hostTag);
  }
  return createTask(
    {
      id,
      projectId,
      config: resolved.config,
      request: ctx.cipher.seal(resolved.request, id),
      hostTag,
      tags: body.tags ?? [],
      flowKey: body.flowKey ?? '',
    },
    now,
  );
}
