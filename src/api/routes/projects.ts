import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { normaliseEmail } from '../../core/email.js';
import { validationError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { hashToken, newToken } from '../../core/tokens.js';
import { type RouteContext, projectOf } from '../context.js';
import { ROUTE_SCHEMAS } from '../schemas.js';

/** Projects: register (the token is shown once, only its hash is kept) and info. */
export function projectRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    '/v1beta/register',
    { schema: ROUTE_SCHEMAS.register, config: { public: true, throttle: 'register' } },
    async (request, reply) => {
      const email = normaliseEmail(request.body.email);
      if (!email) throw validationError([{ field: 'email', message: 'must be a valid email address' }]);
      const now = ctx.clock.now();
      const id = newId(now);
      const token = newToken();
      await ctx.store.insertProject({
        id,
        email,
        tokenHash: hashToken(token),
        createdAt: now,
        as: ctx.level === 'PRODUCTION' ? 'GUEST' : 'DEV',
      });
      return reply.code(201).send({ id, token });
    },
  );

  app.get('/v1beta/info', { schema: ROUTE_SCHEMAS.info }, async (request) => {
    const project = projectOf(request);
    return {
      email: project.email,
      createdAt: project.createdAt,
      taskInQueue: await ctx.store.countActive(project.id),
      taskInQueueLimit: ctx.queueLimit,
      as: project.as,
    };
  });
}
