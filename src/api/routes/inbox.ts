import type { AddressInfo } from 'node:net';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../core/errors.js';
import { isId, newId } from '../../core/ids.js';
import { INBOX, type ReceivedRequest, inboxPath, openReceived, sealReceived } from '../../core/inbox.js';
import { HTTP_METHODS } from '../../core/task.js';
import { type RouteContext, projectOf } from '../context.js';
import { ROUTE_SCHEMAS } from '../schemas.js';

/**
 * The address this server's dispatcher reaches it at, from where it listens: an unspecified address
 * (0.0.0.0, ::) is reached on loopback. Read per request, as the server listens only after the
 * routes are built; the target policy knows the same endpoints as the server's own.
 */
function ownOrigin(app: FastifyInstance): string {
  const listening = app.addresses().find((a): a is AddressInfo => typeof a !== 'string');
  if (!listening) return 'http://127.0.0.1';
  const address = listening.address === '0.0.0.0' || listening.address === '::' ? '127.0.0.1' : listening.address;
  return `http://${address.includes(':') ? `[${address}]` : address}:${listening.port}`;
}

/** Header values as one string each (Node gives repeated ones, such as set-cookie, as arrays). */
function flatHeaders(headers: FastifyRequest['headers']): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

/**
 * The inbox: `/inbox/:projectId` (public, any of the methods a task sends) keeps the last
 * INBOX.keep requests it received, sealed; `GET /v1beta/inbox` shows them with the URL to target,
 * `DELETE /v1beta/inbox` empties it. While the inbox is off (PRODUCTION by default) they are not
 * registered: they answer 404 NOT_FOUND as any unknown route does, and the OpenAPI document leaves
 * them out.
 */
export async function inboxRoutes(fastify: FastifyInstance, ctx: RouteContext): Promise<void> {
  if (!ctx.inbox) return;
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  await app.register(async (receiver) => {
    // Any body, as bytes: the inbox shows what a task sent, JSON or not (the rest of the API takes JSON only).
    receiver.removeAllContentTypeParsers();
    receiver.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

    receiver.route({
      method: [...HTTP_METHODS],
      url: '/inbox/:projectId',
      config: { public: true },
      handler: async (request) => {
        const { projectId } = request.params as { projectId: string };
        const project = isId(projectId) ? await ctx.store.findProject(projectId) : null;
        if (!project) throw new AppError('NOT_FOUND', 'No inbox at this path');
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const now = ctx.clock.now();
        const id = newId(now);
        const received: ReceivedRequest = {
          receivedAt: now,
          method: request.method,
          path: request.url,
          headers: flatHeaders(request.headers),
          body: body.subarray(0, INBOX.bodyCap),
          truncated: body.length > INBOX.bodyCap,
        };
        await ctx.store.pushInbox(project.id, { id, sealed: sealReceived(ctx.cipher, project.id, id, received) }, INBOX.keep);
        return { id };
      },
    });
  });

  app.get('/v1beta/inbox', { schema: ROUTE_SCHEMAS.inbox }, async (request) => {
    const project = projectOf(request);
    const records = await ctx.store.readInbox(project.id);
    return {
      url: ownOrigin(app) + inboxPath(project.id),
      requests: records.map((record) => openReceived(ctx.cipher, project.id, record.id, record.sealed)),
    };
  });

  app.delete('/v1beta/inbox', { schema: ROUTE_SCHEMAS.clearInbox }, async (request) => {
    const project = projectOf(request);
    await ctx.store.clearInbox(project.id);
    return { response: 'EMPTY' } as const;
  });
}
