import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { BreakerPolicy, CircuitKind, StoredCircuit } from '../../core/circuit.js';
import { AppError, validationError } from '../../core/errors.js';
import type { BreakerPolicyView, FieldIssue } from '../../core/shapes.js';
import { callbackUrlProblem } from '../../core/subscription.js';
import { circuitView } from '../../core/views.js';
import { type RouteContext, projectOf } from '../context.js';
import { ROUTE_SCHEMAS } from '../schemas.js';

/** Tries at resetting a circuit that others keep writing to. */
const RESET_TRIES = 5;

const policyView = (policy: BreakerPolicy): BreakerPolicyView => ({ ...policy });

/**
 * Circuit breakers (core/circuit.ts, dispatch/circuits.ts): `PUT|GET|DELETE /v1beta/breakers/policy`
 * turn them on, show and turn them off for the project; `GET /v1beta/breakers` lists the circuits
 * that hold a record (failures counted, open or half-open); `GET|DELETE /v1beta/breakers/:kind/:key`
 * show and reset one. A change here reaches this server's dispatcher at once, the others within
 * SERVICE.BREAKERS.CACHE_MS.
 */
export function breakerRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.get('/v1beta/breakers', { schema: ROUTE_SCHEMAS.breakers }, async (request) => {
    const project = projectOf(request);
    const { policy, circuits } = await ctx.store.readBreakers(project.id);
    return { policy: policy ? policyView(policy) : null, circuits: circuits.map((c) => circuitView(ctx.cipher, project.id, c)) };
  });

  app.get('/v1beta/breakers/policy', { schema: ROUTE_SCHEMAS.breakerPolicy }, async (request) => {
    const { policy } = await ctx.store.readBreakers(projectOf(request).id);
    if (!policy) throw new AppError('BREAKERS_OFF');
    return policyView(policy);
  });

  app.put('/v1beta/breakers/policy', { schema: ROUTE_SCHEMAS.putBreakerPolicy }, async (request) => {
    const project = projectOf(request);
    const body = request.body;
    const issues: FieldIssue[] = [];
    if (body.maxOpenMs < body.openMs) issues.push({ field: 'maxOpenMs', message: `must be at least openMs (${body.openMs})` });
    const urlProblem = body.callbackUrl === undefined ? null : callbackUrlProblem(body.callbackUrl, ctx.policy);
    if (urlProblem) issues.push({ field: 'callbackUrl', message: urlProblem });
    if (issues.length > 0) throw validationError(issues);
    const policy: BreakerPolicy = {
      failureThreshold: body.failureThreshold,
      openMs: body.openMs,
      maxOpenMs: body.maxOpenMs,
      callbackUrl: body.callbackUrl ?? null,
    };
    await ctx.store.writeBreakerPolicy(project.id, policy);
    ctx.circuits.forget(project.id);
    return policyView(policy);
  });

  app.delete('/v1beta/breakers/policy', { schema: ROUTE_SCHEMAS.deleteBreakerPolicy }, async (request) => {
    const project = projectOf(request);
    await ctx.store.writeBreakerPolicy(project.id, null);
    ctx.circuits.forget(project.id);
    return { response: 'EMPTY' as const };
  });

  /** The project's circuit of that kind and key; for kind host, `key` may also be the host's name. */
  const findCircuit = async (projectId: string, kind: CircuitKind, key: string): Promise<StoredCircuit> => {
    const { circuits } = await ctx.store.readBreakers(projectId);
    const tag = kind === 'host' ? ctx.cipher.hostTag(key) : null;
    const found = circuits.find((c) => c.kind === kind && (c.key === key || c.key === tag));
    if (!found) throw new AppError('CIRCUIT_NOT_FOUND');
    return found;
  };

  app.get('/v1beta/breakers/:kind/:key', { schema: ROUTE_SCHEMAS.circuit }, async (request) => {
    const project = projectOf(request);
    return circuitView(ctx.cipher, project.id, await findCircuit(project.id, request.params.kind, request.params.key));
  });

  app.delete('/v1beta/breakers/:kind/:key', { schema: ROUTE_SCHEMAS.resetCircuit }, async (request) => {
    const project = projectOf(request);
    for (let i = 0; i < RESET_TRIES; i++) {
      const circuit = await findCircuit(project.id, request.params.kind, request.params.key);
      if (await ctx.store.writeCircuit(project.id, circuit, null)) {
        ctx.circuits.forget(project.id);
        return { response: 'EMPTY' as const };
      }
    }
    throw new AppError('TASK_BUSY', 'The circuit kept changing while this request tried to reset it; try again');
  });
}
