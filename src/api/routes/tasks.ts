import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { AppError, validationError } from '../../core/errors.js';
import { resolveReschedule } from '../../core/subscription.js';
import { executeTask, pauseTask, rescheduleTask, resumeTask, unsubscribeTask } from '../../core/task-machine.js';
import { encodeCursor, pageEntries, timelinePageQuery } from '../../core/timeline.js';
import { queuedView, targetOf, taskView } from '../../core/views.js';
import { type RouteContext, projectOf } from '../context.js';
import { REPLAYED_HEADER, idempotencyClaim, idempotencyKeyOf, replayedTaskId } from '../idempotency.js';
import { ROUTE_SCHEMAS } from '../schemas.js';
import { newTask, subscribeIssues } from '../subscribe-body.js';
import { deleteOwnTask, findOwnTask, mutateTask, notFound } from '../task-writes.js';
import { replayOwnTask } from '../replay.js';
import { attemptPageQuery, attemptViewOf } from '../../core/attempt-log.js';

/** Tasks: subscribe, read, timeline, attempts, pause, resume, execute, reschedule, unsubscribe, replay, delete. */
export function taskRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  // Types only: requests and answers are typed from the route schemas; validation stays Fastify's ajv.
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.post('/v1beta/subscribe', { schema: ROUTE_SCHEMAS.subscribe, attachValidation: true }, async (request, reply) => {
    const project = projectOf(request);
    const now = ctx.clock.now();
    // Every problem at once: the schema's, and the semantic ones of the fields that passed it.
    if (request.validationError) throw validationError(subscribeIssues(request.body, request.validationError, project.id, now, ctx));
    const key = idempotencyKeyOf(request);
    const task = newTask(request.body, project.id, now, ctx);
    const claim =
      key === undefined ? undefined : idempotencyClaim(ctx.cipher, project.id, key, request.rawBody ?? '', now, ctx.idempotencyWindowMs);
    const recorded = await ctx.store.insertTask(task, [], ctx.queueLimit, claim);
    if (!recorded) {
      ctx.metrics.subscribed(1);
      request.taskId = task.id;
      return reply.code(201).send(queuedView(task));
    }
    const first = await ctx.store.findTask(project.id, replayedTaskId(recorded, claim!));
    if (!first) throw new AppError('TASK_NOT_FOUND', 'The task this Idempotency-Key made has been deleted; use a new key for a new task');
    request.taskId = first.id;
    return reply.code(200).header(REPLAYED_HEADER, 'true').send(queuedView(first));
  });

  app.get('/v1beta/queues/:id', { schema: ROUTE_SCHEMAS.task }, async (request) => {
    const project = projectOf(request);
    const task = await findOwnTask(ctx, project.id, request.params.id);
    return taskView(task, targetOf(ctx.cipher, task));
  });

  // Pages: the body stays the array it always was; a Link header (rel="next") gives the next page.
  app.get('/v1beta/queues/:id/timeline', { schema: ROUTE_SCHEMAS.timeline }, async (request, reply) => {
    const project = projectOf(request);
    const { limit, from } = timelinePageQuery(request.query);
    const task = await findOwnTask(ctx, project.id, request.params.id);
    // The first page starts with the derived Subscribe entry, which takes one of its places.
    const page = await ctx.store.readTimeline(project.id, task.id, from === null ? { from: 0, limit: limit - 1 } : { from, limit });
    if (!page) throw notFound(request.params.id);
    if (page.next !== null) {
      reply.header('link', `</v1beta/queues/${task.id}/timeline?limit=${limit}&cursor=${encodeCursor(page.next)}>; rel="next"`);
    }
    return pageEntries(task, page.entries, from === null);
  });

  // Newest first; as on the timeline, a Link header (rel="next") gives the next page.
  app.get('/v1beta/queues/:id/attempts', { schema: ROUTE_SCHEMAS.attempts }, async (request, reply) => {
    const project = projectOf(request);
    const { limit, before } = attemptPageQuery(request.query);
    const task = await findOwnTask(ctx, project.id, request.params.id);
    const page = await ctx.store.readAttempts(project.id, task.id, { before, limit });
    if (!page) throw notFound(request.params.id);
    if (page.next !== null) {
      reply.header('link', `</v1beta/queues/${task.id}/attempts?limit=${limit}&cursor=${encodeCursor(page.next)}>; rel="next"`);
    }
    return page.attempts.map((record) => attemptViewOf(record, task.id, ctx.cipher));
  });

  app.patch('/v1beta/replay/:id', { schema: ROUTE_SCHEMAS.replay }, async (request, reply) => {
    const project = projectOf(request);
    const task = await replayOwnTask(ctx, project.id, request.params.id);
    return reply.code(201).send(taskView(task, targetOf(ctx.cipher, task)));
  });

  app.patch('/v1beta/pause/:id', { schema: ROUTE_SCHEMAS.pause }, async (request) => {
    const project = projectOf(request);
    await mutateTask(ctx, project.id, request.params.id, pauseTask);
    return { response: 'PAUSED' } as const;
  });

  app.patch('/v1beta/resume/:id', { schema: ROUTE_SCHEMAS.resume }, async (request) => {
    const project = projectOf(request);
    return queuedView(await mutateTask(ctx, project.id, request.params.id, resumeTask));
  });

  // Both write through the store's compare-and-set, whose write wakes the dispatcher (onDue) when the
  // task is due sooner than anything it waits for: a task run now is claimed at once.
  app.patch('/v1beta/execute/:id', { schema: ROUTE_SCHEMAS.execute }, async (request) => {
    const project = projectOf(request);
    return queuedView(await mutateTask(ctx, project.id, request.params.id, executeTask));
  });

  app.patch('/v1beta/reschedule/:id', { schema: ROUTE_SCHEMAS.reschedule }, async (request) => {
    const project = projectOf(request);
    // The body is judged before the task is looked up, as every route's schema is; the step keeps
    // that `now`, so a delay given to a PAUSED task is its time left exactly.
    const now = ctx.clock.now();
    const at = resolveReschedule(request.body, now);
    return queuedView(await mutateTask(ctx, project.id, request.params.id, (task) => rescheduleTask(task, at, now)));
  });

  app.patch('/v1beta/unsubscribe/:id', { schema: ROUTE_SCHEMAS.unsubscribe }, async (request) => {
    const project = projectOf(request);
    await mutateTask(ctx, project.id, request.params.id, unsubscribeTask);
    return { response: 'UNSUBSCRIBED' } as const;
  });

  app.delete('/v1beta/queues/:id', { schema: ROUTE_SCHEMAS.remove }, async (request) => {
    const project = projectOf(request);
    await deleteOwnTask(ctx, project.id, request.params.id);
    return { response: 'EMPTY' } as const;
  });
}
