import type { FastifyInstance } from 'fastify';
import { AppError, validationError } from '../../core/errors.js';
import { isId, newId } from '../../core/ids.js';
import { type SubscribeBody, resolveSubscription, subscriptionIssues } from '../../core/subscription.js';
import type { Task } from '../../core/task.js';
import { type Transition, assertDeletable, createTask, pauseTask, resumeTask, unsubscribeTask } from '../../core/task-machine.js';
import { queuedView, taskView } from '../../core/views.js';
import type { StoredTask } from '../../store/task-store.js';
import { type RouteContext, projectOf } from '../context.js';
import { issuesFromAjv } from '../error-handler.js';
import { validPart } from '../partial-body.js';
import { idParamsSchema, queuedSchema, responseSchema, subscribeBodySchema, taskSchema, timelineSchema } from '../schemas.js';

/** Tasks: subscribe, read, timeline, pause, resume, unsubscribe, delete. */
type IdRequest = { Params: { id: string } };

/** Tries this many times when a concurrent write (the dispatcher recording an attempt) wins the race. */
const MAX_WRITE_TRIES = 8;

function notFound(id: string): AppError {
  const shown = JSON.stringify(id.length > 40 ? `${id.slice(0, 40)}…` : id);
  return new AppError('TASK_NOT_FOUND', `id: no task ${shown} in this project`);
}

export function taskRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const find = async (projectId: string, id: string): Promise<StoredTask> => {
    const task = isId(id) ? await ctx.store.findTask(projectId, id) : null;
    if (!task) throw notFound(id);
    return task;
  };

  /** Applies a state-machine step with compare-and-set, re-reading when the task changed under us. */
  const mutate = async (projectId: string, id: string, step: (task: Task, now: number) => Transition): Promise<Task> => {
    for (let tries = 0; tries < MAX_WRITE_TRIES; tries++) {
      const current = await find(projectId, id);
      const next = step(current, ctx.clock.now());
      if (await ctx.store.replaceTask(current, next.task, next.entries)) return next.task;
    }
    throw new AppError('INTERNAL', 'The task kept changing; try again');
  };

  app.post<{ Body: SubscribeBody }>(
    '/v1beta/subscribe',
    { schema: { body: subscribeBodySchema, response: { 201: queuedSchema } }, attachValidation: true },
    async (request, reply) => {
      const project = projectOf(request);
      const now = ctx.clock.now();
      if (request.validationError) {
        // Every problem at once: the schema's, and the semantic ones of the fields that passed it.
        const shape = issuesFromAjv((request.validationError as { validation?: [] }).validation ?? [], 'body');
        const semantic = subscriptionIssues(validPart(request.body, shape.map((i) => i.field)), now, ctx.policy);
        throw validationError([...shape, ...semantic.filter((s) => !shape.some((i) => i.field === s.field))]);
      }
      const resolved = resolveSubscription(request.body, now, ctx.policy);
      const id = newId(now);
      const { task, entries } = createTask(
        {
          id,
          projectId: project.id,
          config: resolved.config,
          firstExecAt: resolved.firstExecAt,
          sealedRequest: ctx.cipher.seal(resolved.request, id),
        },
        now,
      );
      await ctx.store.insertTask(task, entries, ctx.queueLimit);
      return reply.code(201).send(queuedView(task));
    },
  );

  app.get<IdRequest>('/v1beta/queues/:id', { schema: { params: idParamsSchema, response: { 200: taskSchema } } }, async (request) => {
    const project = projectOf(request);
    return taskView(await find(project.id, request.params.id));
  });

  app.get<IdRequest>(
    '/v1beta/queues/:id/timeline',
    { schema: { params: idParamsSchema, response: { 200: timelineSchema } } },
    async (request) => {
      const project = projectOf(request);
      const timeline = isId(request.params.id) ? await ctx.store.readTimeline(project.id, request.params.id) : null;
      if (!timeline) throw notFound(request.params.id);
      return timeline;
    },
  );

  app.patch<IdRequest>(
    '/v1beta/pause/:id',
    { schema: { params: idParamsSchema, response: { 200: responseSchema('PAUSED') } } },
    async (request) => {
      const project = projectOf(request);
      await mutate(project.id, request.params.id, pauseTask);
      return { response: 'PAUSED' };
    },
  );

  app.patch<IdRequest>(
    '/v1beta/resume/:id',
    { schema: { params: idParamsSchema, response: { 200: queuedSchema } } },
    async (request) => {
      const project = projectOf(request);
      return queuedView(await mutate(project.id, request.params.id, resumeTask));
    },
  );

  app.patch<IdRequest>(
    '/v1beta/unsubscribe/:id',
    { schema: { params: idParamsSchema, response: { 200: responseSchema('UNSUBSCRIBED') } } },
    async (request) => {
      const project = projectOf(request);
      await mutate(project.id, request.params.id, unsubscribeTask);
      return { response: 'UNSUBSCRIBED' };
    },
  );

  app.delete<IdRequest>(
    '/v1beta/queues/:id',
    { schema: { params: idParamsSchema, response: { 200: responseSchema('EMPTY') } } },
    async (request) => {
      const project = projectOf(request);
      for (let tries = 0; tries < MAX_WRITE_TRIES; tries++) {
        const current = await find(project.id, request.params.id);
        assertDeletable(current);
        if (await ctx.store.deleteTask(current)) return { response: 'EMPTY' };
      }
      throw new AppError('INTERNAL', 'The task kept changing; try again');
    },
  );
}
