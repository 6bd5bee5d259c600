import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

/** The package's version, read once: the same file at this depth under src/ (tsx) and dist/ (built). */
export const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * Pages the index points to when this server has them. The health check always exists; a route
 * added at one of the other paths (API docs, the web app) shows up in the index by itself.
 */
const LINKS = { health: '/healthz', openapi: '/v1beta/openapi.json', docs: '/docs', app: '/dashboard' } as const;

/**
 * `GET /`: what answers here and where to go next, for a newcomer who opens the server's address.
 * Public and not throttled, like the health check.
 */
export function serviceIndexRoutes(app: FastifyInstance): void {
  let links: Partial<Record<keyof typeof LINKS, string>> | null = null;
  app.get('/', { config: { public: true } }, async () => {
    // Known once every route is registered, that is by the first request.
    links ??= Object.fromEntries(Object.entries(LINKS).filter(([, url]) => app.hasRoute({ method: 'GET', url })));
    return { name: 'Kuueri Tasks', version: VERSION, api: '/v1beta', links };
  });
}
