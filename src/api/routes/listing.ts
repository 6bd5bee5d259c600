import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { type FieldIssue, validationError } from '../../core/errors.js';
import { checkFilter, encodeListCursor, listingQuery } from '../../core/listing.js';
import { targetOf, taskView } from '../../core/views.js';
import { REPLAYABLE_STATES } from '../../core/task-machine.js';
import type { TaskFilter } from '../../store/task-store.js';
import { bulkByFilter, bulkByIds } from '../bulk.js';
import { type RouteContext, projectOf } from '../context.js';
import { ROUTE_SCHEMAS } from '../schemas.js';

/** Listing and bulk actions: `GET /v1beta/queues`, `POST /v1beta/queues/bulk`. */
export function listingRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  // The body holds the page; a Link header (rel="next") gives the next one too, as the timeline's does.
  app.get('/v1beta/queues', { schema: ROUTE_SCHEMAS.list }, async (request, reply) => {
    const project = projectOf(request);
    const { host, ...query } = listingQuery(request.query);
    const page = await ctx.store.listTasks(project.id, { ...query, ...(host === undefined ? {} : { hostTag: ctx.cipher.hostTag(host) }) });
    const nextCursor = page.next === null ? null : encodeListCursor(page.next);
    if (nextCursor !== null) {
      const params = new URLSearchParams();
      for (const [name, value] of Object.entries(request.query))
        if (typeof value === 'string' && name !== 'cursor') params.set(name, value);
      params.set('cursor', nextCursor);
      reply.header('link', `</v1beta/queues?${params.toString()}>; rel="next"`);
    }
    return { tasks: page.tasks.map((task) => taskView(task, targetOf(ctx.cipher, task))), nextCursor };
  });

  app.post('/v1beta/queues/bulk', { schema: ROUTE_SCHEMAS.bulk }, async (request) => {
    const project = projectOf(request);
    const { action, ids, filter } = request.body;
    const issues: FieldIssue[] = [];
    if ((ids === undefined) === (filter === undefined)) issues.push({ field: 'body', message: 'must have exactly one of ids and filter' });
    const checked = filter ? checkFilter({ ...filter, states: filter.state }, 'filter.', 'state', issues) : {};
    if (issues.length > 0) throw validationError(issues);
    if (ids !== undefined) return bulkByIds(ctx, project.id, action, ids);
    const { host, ...rest } = checked;
    const storeFilter: TaskFilter = { ...rest, ...(host === undefined ? {} : { hostTag: ctx.cipher.hostTag(host) }) };
    // A replay by filter without states replays what can be: the tasks that ended ERROR or EXCEEDED.
    if (action === 'replay' && storeFilter.states === undefined) storeFilter.states = REPLAYABLE_STATES;
    return bulkByFilter(ctx, project.id, action, storeFilter);
  });
}
