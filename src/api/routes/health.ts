import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.js';
import { sendError } from '../error-handler.js';
import { AppError } from '../../core/errors.js';

/** Liveness and store reachability, for load balancers and orchestrators. Never throttled. */
export function healthRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get('/healthz', { config: { public: true, throttle: false } }, async (_request, reply) => {
    try {
      await ctx.store.ping();
      return { status: 'ok', store: ctx.store.kind };
    } catch {
      return sendError(reply, new AppError('STORE_UNAVAILABLE'));
    }
  });
}
