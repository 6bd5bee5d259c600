import type { FastifyInstance } from 'fastify';
import { AppError } from '../../core/errors.js';
import { hashToken, tokenMatches } from '../../core/tokens.js';
import type { ServiceMetrics } from '../../observe/metrics.js';

const BEARER = /^Bearer +(\S+) *$/i;

/** For the OpenAPI document: the answer is text, sent as prom-client writes it. */
const EXPOSITION = { type: 'string', description: 'The Prometheus text exposition format 0.0.4' };

/**
 * `GET /metrics`: the Prometheus text exposition of this server's metrics. With a metrics token set
 * (TASKS_METRICS_TOKEN), a scrape must present it as a bearer token; compared by digest, in
 * constant time. Public otherwise: no metric names a project or a task. Not throttled.
 */
export function metricsRoutes(app: FastifyInstance, metrics: ServiceMetrics, token: string | null): void {
  const expected = token === null ? null : hashToken(token);
  const schema = { response: { 200: { content: { 'text/plain': { schema: EXPOSITION } } } } };
  app.get('/metrics', { config: { public: true }, schema }, async (request, reply) => {
    if (expected !== null) {
      const presented = BEARER.exec(request.headers.authorization ?? '')?.[1] ?? '';
      if (!tokenMatches(presented, expected)) {
        throw new AppError('UNAUTHORIZED', 'GET /metrics needs the metrics token: Authorization: Bearer <TASKS_METRICS_TOKEN>');
      }
    }
    const { contentType, text } = await metrics.scrape();
    return reply.type(contentType).send(text);
  });
}
