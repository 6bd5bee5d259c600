import type { FastifyInstance } from 'fastify';
import { AppError } from '../../core/errors.js';
import type { RouteContext } from '../context.js';

/** Liveness and store reachability, for load balancers and orchestrators. Never throttled. */
export function healthRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get('/healthz', { config: { public: true } }, async () => {
    try {
      await ctx.store.ping();
    } catch (error) {
      // The error handler answers 503 and logs what failed underneath.
      throw error instanceof AppError && error.code === 'STORE_UNAVAILABLE'
        ? error
        : new AppError('STORE_UNAVAILABLE', undefined, [], { cause: error });
    }
    return { status: 'ok', store: ctx.store.kind };
  });
}
