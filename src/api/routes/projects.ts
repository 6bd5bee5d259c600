import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { normaliseEmail } from '../../core/email.js';
import { validationError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { RequestCipher } from '../../core/sealed-request.js';
import { newSigningSecret, signingAad, signingKeyOf } from '../../core/signing.js';
import { hashToken, newToken } from '../../core/tokens.js';
import { type RouteContext, projectOf } from '../context.js';
import { ROUTE_SCHEMAS } from '../schemas.js';

/** A new signing secret, and its key sealed for the store (bound to the project). */
function newSealedSecret(cipher: RequestCipher, projectId: string): { secret: string; sealed: Buffer } {
  const secret = newSigningSecret();
  return { secret, sealed: cipher.sealBytes(signingKeyOf(secret), signingAad(projectId)) };
}

/**
 * Projects: register (the token and the signing secret are shown once: only the token's hash and
 * the secret sealed are kept), info, and the rotation of the signing secret.
 */
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
      const signing = newSealedSecret(ctx.cipher, id);
      await ctx.store.insertProject(
        { id, email, tokenHash: hashToken(token), createdAt: now, as: ctx.level === 'PRODUCTION' ? 'GUEST' : 'DEV' },
        { current: signing.sealed, previous: null, previousUntil: 0 },
      );
      return reply.code(201).send({ id, token, signingSecret: signing.secret });
    },
  );

  // The current secret signs beside the new one for the grace period; one rotated earlier is dropped.
  app.post('/v1beta/signing-secret', { schema: ROUTE_SCHEMAS.signingSecret }, async (request) => {
    const project = projectOf(request);
    const before = await ctx.store.readSigningKeys(project.id);
    const previousUntil = before && ctx.signingGraceMs > 0 ? ctx.clock.now() + ctx.signingGraceMs : 0;
    const signing = newSealedSecret(ctx.cipher, project.id);
    await ctx.store.writeSigningKeys(project.id, {
      current: signing.sealed,
      previous: previousUntil > 0 ? before!.current : null,
      previousUntil,
    });
    ctx.signer.forget(project.id);
    return { signingSecret: signing.secret, previousValidUntil: previousUntil > 0 ? previousUntil : null };
  });

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
