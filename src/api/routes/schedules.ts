import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../core/errors.js';
import { isId, newId } from '../../core/ids.js';
import { encodeListCursor, listingQuery } from '../../core/listing.js';
import { type Schedule, type StoredSchedule, pauseSchedule, resumeSchedule } from '../../core/schedule.js';
import { resolveSchedule } from '../../core/schedule-body.js';
import { scheduleView, targetOf } from '../../core/views.js';
import type { ScheduleView } from '../../core/shapes.js';
import { type RouteContext, projectOf } from '../context.js';
import { ROUTE_SCHEMAS } from '../schemas.js';

/** Tries this many times when a concurrent write (a scheduler making a run) wins the race. */
const MAX_WRITE_TRIES = 8;

function notFound(id: string): AppError {
  const shown = JSON.stringify(id.length > 40 ? `${id.slice(0, 40)}…` : id);
  return new AppError('SCHEDULE_NOT_FOUND', `id: no schedule ${shown} in this project`);
}

/** Schedules: create, list, read, pause, resume, delete (core/schedule.ts has the rules). */
export function scheduleRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const view = (schedule: Schedule): ScheduleView => scheduleView(schedule, targetOf(ctx.cipher, schedule));

  const findOwn = async (projectId: string, id: string): Promise<StoredSchedule> => {
    const schedule = isId(id) ? await ctx.store.findSchedule(projectId, id) : null;
    if (!schedule) throw notFound(id);
    return schedule;
  };

  /** Writes `step`'s schedule with compare-and-set, reading again when a scheduler wrote meanwhile. */
  const mutate = async (projectId: string, id: string, step: (schedule: StoredSchedule, now: number) => Schedule): Promise<Schedule> => {
    for (let tries = 0; tries < MAX_WRITE_TRIES; tries++) {
      const current = await findOwn(projectId, id);
      const next = step(current, ctx.clock.now());
      if (await ctx.store.replaceSchedule(current, next)) return next;
    }
    throw new AppError('SCHEDULE_BUSY');
  };

  app.post('/v1beta/schedules', { schema: ROUTE_SCHEMAS.createSchedule }, async (request, reply) => {
    const project = projectOf(request);
    const now = ctx.clock.now();
    const resolved = resolveSchedule(request.body, now, ctx.policy, project.id);
    const id = newId(now);
    const schedule: Schedule = {
      id,
      projectId: project.id,
      config: resolved.config,
      request: ctx.cipher.seal(resolved.request, id),
      hostTag: ctx.cipher.hostTag(new URL(resolved.request.url).hostname),
      ...resolved.fields,
    };
    if (!(await ctx.store.insertSchedule(schedule, ctx.scheduleLimit))) throw new AppError('SCHEDULES_FULL');
    ctx.wakeScheduler(schedule.nextRunAt);
    return reply.code(201).send(view(schedule));
  });

  app.get('/v1beta/schedules', { schema: ROUTE_SCHEMAS.listSchedules }, async (request) => {
    const project = projectOf(request);
    const { limit, below } = listingQuery({ limit: request.query.limit, cursor: request.query.cursor });
    const page = await ctx.store.listSchedules(project.id, { limit, ...(below === undefined ? {} : { below }) });
    return { schedules: page.schedules.map(view), nextCursor: page.next === null ? null : encodeListCursor(page.next) };
  });

  app.get('/v1beta/schedules/:id', { schema: ROUTE_SCHEMAS.schedule }, async (request) => {
    return view(await findOwn(projectOf(request).id, request.params.id));
  });

  app.patch('/v1beta/schedules/:id/pause', { schema: ROUTE_SCHEMAS.pauseSchedule }, async (request) => {
    const schedule = await mutate(projectOf(request).id, request.params.id, (current) => {
      if (current.state !== 'ACTIVE')
        throw new AppError('SCHEDULE_STATE_CONFLICT', `Only an ACTIVE schedule can be paused; this one is ${current.state}`);
      return pauseSchedule(current);
    });
    return view(schedule);
  });

  app.patch('/v1beta/schedules/:id/resume', { schema: ROUTE_SCHEMAS.resumeSchedule }, async (request) => {
    const schedule = await mutate(projectOf(request).id, request.params.id, (current, now) => {
      if (current.state !== 'PAUSED')
        throw new AppError('SCHEDULE_STATE_CONFLICT', `Only a PAUSED schedule can be resumed; this one is ${current.state}`);
      return resumeSchedule(current, now);
    });
    if (schedule.nextRunAt > 0) ctx.wakeScheduler(schedule.nextRunAt);
    return view(schedule);
  });

  // The tasks its runs made stay: each is a task of its own, with its own timeline.
  app.delete('/v1beta/schedules/:id', { schema: ROUTE_SCHEMAS.removeSchedule }, async (request) => {
    const projectId = projectOf(request).id;
    for (let tries = 0; tries < MAX_WRITE_TRIES; tries++) {
      if (await ctx.store.deleteSchedule(await findOwn(projectId, request.params.id))) return { response: 'EMPTY' } as const;
    }
    throw new AppError('SCHEDULE_BUSY');
  });
}
