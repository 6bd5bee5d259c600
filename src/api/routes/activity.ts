import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { ActivityMinute } from '../../core/shapes.js';
import { MINUTE_MS } from '../../dispatch/activity-counter.js';
import { type RouteContext, projectOf } from '../context.js';
import { ROUTE_SCHEMAS } from '../schemas.js';

/** Minutes `GET /v1beta/activity` answers, the current one last. */
const MINUTES = 60;

/**
 * `GET /v1beta/activity`: the project's attempt outcomes per minute over the last hour, oldest
 * first, one entry per minute (zeros included), the current minute last. Counted by every server's
 * dispatcher and summed in the store (dispatch/activity-counter.ts), so the latest seconds may lag.
 */
export function activityRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.get('/v1beta/activity', { schema: ROUTE_SCHEMAS.activity }, async (request) => {
    const project = projectOf(request);
    const current = Math.floor(ctx.clock.now() / MINUTE_MS) * MINUTE_MS;
    const first = current - (MINUTES - 1) * MINUTE_MS;
    const stored = new Map((await ctx.store.readActivity(project.id, first, current + MINUTE_MS)).map((c) => [c.minute, c]));
    const minutes: ActivityMinute[] = [];
    for (let at = first; at <= current; at += MINUTE_MS) {
      const found = stored.get(at);
      minutes.push({ at, delivered: found?.delivered ?? 0, failed: found?.failed ?? 0 });
    }
    return { minutes };
  });
}
