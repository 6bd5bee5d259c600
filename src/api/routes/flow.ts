import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../core/errors.js';
import type { FlowView } from '../../core/shapes.js';
import type { FlowStatus } from '../../store/task-store.js';
import { type RouteContext, projectOf } from '../context.js';
import { ROUTE_SCHEMAS } from '../schemas.js';

/** The view of a key's limits and use: the store's status as it is. */
function flowView(status: FlowStatus): FlowView {
  const { key, rate, parallelism, ordered, paused, inFlight, waiting } = status;
  return { key, rate, parallelism, ordered, paused, inFlight, waiting };
}

const notFound = (key: string): AppError => new AppError('FLOW_NOT_FOUND', `The project set no limits for the flow key ${key}`);
const keysFull = (): AppError => new AppError('FLOW_KEYS_FULL');

/**
 * Flow control (core/flow.ts): a project's limits per flow key, `/v1beta/flow/:key`. A key is the
 * project's own: another project's key of the same name is another key. The claim enforces them;
 * these routes only write and read them.
 */
export function flowRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.put('/v1beta/flow/:key', { schema: ROUTE_SCHEMAS.putFlow }, async (request) => {
    const project = projectOf(request);
    const { key } = request.params;
    const { rate, parallelism, ordered } = request.body;
    const written = await ctx.store.putFlow(project.id, key, {
      rate: rate ?? null,
      parallelism: parallelism ?? null,
      ordered: ordered ?? false,
    });
    if (!written) throw keysFull();
    return flowView((await ctx.store.readFlow(project.id, key)) ?? notFoundAfterWrite(key));
  });

  app.get('/v1beta/flow', { schema: ROUTE_SCHEMAS.flows }, async (request) => {
    const project = projectOf(request);
    return { flows: (await ctx.store.listFlows(project.id)).map(flowView) };
  });

  app.get('/v1beta/flow/:key', { schema: ROUTE_SCHEMAS.flow }, async (request) => {
    const project = projectOf(request);
    const status = await ctx.store.readFlow(project.id, request.params.key);
    if (!status) throw notFound(request.params.key);
    return flowView(status);
  });

  app.delete('/v1beta/flow/:key', { schema: ROUTE_SCHEMAS.deleteFlow }, async (request) => {
    const project = projectOf(request);
    if (!(await ctx.store.deleteFlow(project.id, request.params.key))) throw notFound(request.params.key);
    return { response: 'EMPTY' as const };
  });

  app.patch('/v1beta/flow/:key/pause', { schema: ROUTE_SCHEMAS.pauseFlow }, async (request) => {
    const project = projectOf(request);
    const { key } = request.params;
    if (!(await ctx.store.pauseFlow(project.id, key, true))) throw keysFull();
    return flowView((await ctx.store.readFlow(project.id, key)) ?? notFoundAfterWrite(key));
  });

  app.patch('/v1beta/flow/:key/resume', { schema: ROUTE_SCHEMAS.resumeFlow }, async (request) => {
    const project = projectOf(request);
    const { key } = request.params;
    if (!(await ctx.store.pauseFlow(project.id, key, false))) throw notFound(key);
    return flowView((await ctx.store.readFlow(project.id, key)) ?? notFoundAfterWrite(key));
  });
}

/** A key deleted between this request's write and its read (another request): answered as not found. */
function notFoundAfterWrite(key: string): never {
  throw notFound(key);
}
