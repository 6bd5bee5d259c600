import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/**
 * What the pages under /docs may load: only this server's scripts, styles and fonts; images also
 * as data: URLs (swagger-ui's stylesheet draws its icons so, and its logo is one). swagger-ui needs
 * no inline script (its initializer is served as a file, /docs/static/swagger-initializer.js), and
 * the styles React sets go through the CSSOM, which style-src does not govern. One inline style
 * remains: the <style> inside swagger-ui's own small logo (an SVG it renders before the
 * initializer swaps the logo), allowed by its hash alone; a new swagger-ui version may need the
 * hash the browser then names. Guarded by test/http/openapi.test.ts.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * `GET /v1beta/openapi.json` (the document, public) and the interactive docs at `/docs`, every
 * asset served from this server (no CDN). The document is built at its first request, when every
 * route is known.
 */
export async function apiDocsRoutes(app: FastifyInstance): Promise<void> {
  app.get('/v1beta/openapi.json', { config: { public: true } }, async () => app.swagger());

  await app.register(async (docs) => {
    // Every route swagger-ui and its static files add here is public, as the document is.
    docs.addHook('onRoute', (route) => {
      route.config = { ...route.config, public: true };
    });
    await docs.register(swaggerUi, {
      routePrefix: '/docs',
      staticCSP: DOCS_CSP,
      // validatorUrl left unset: the initializer then sets none, so the reader's browser calls no outside validator.
      uiConfig: { deepLinking: true, persistAuthorization: false, tryItOutEnabled: false },
      theme: { title: 'Kuueri Tasks API' },
    });
  });
}
