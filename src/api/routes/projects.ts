import type { FastifyInstance } from 'fastify';
import { normaliseEmail } from '../../core/email.js';
import { validationError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { hashToken, newToken } from '../../core/tokens.js';
import { type RouteContext, projectOf } from '../context.js';
import { registerBodySchema } from '../schemas.js';

/** Projects: register (the token is shown once, only its hash is kept) and info. */
export function projectRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.post<{ Body: { email: string } }>(
    '/v1beta/register',
    {
      schema: {
        body: registerBodySchema,
        response: {
          201: { type: 'object', required: ['id', 'token'], properties: { id: { type: 'string' }, token: { type: 'string' } } },
        },
      },
      config: { public: true, throttle: 'register' },
    },
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

  app.get(
    '/v1beta/info',
    {
      schema: {
        response: {
          200: {
            type: 'object',
            properties: {
              email: { type: 'string' },
              createdAt: { type: 'integer' },
              taskInQueue: { type: 'integer' },
              taskInQueueLimit: { type: 'integer' },
              as: { type: 'string', enum: ['DEV', 'GUEST'] },
            },
          },
        },
      },
    },
    async (request) => {
      const project = projectOf(request);
      return {
        email: project.email,
        createdAt: project.createdAt,
        taskInQueue: await ctx.store.countActive(project.id),
        taskInQueueLimit: ctx.queueLimit,
        as: project.as,
      };
    },
  );
}
