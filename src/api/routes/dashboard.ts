import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Where `npm run build` puts the web app (web/, built by scripts/build-web.mjs): the same path from src/ (tsx) and dist/. */
const WEB_DIR = fileURLToPath(new URL('../../../dist/web/', import.meta.url));

/** The path the web app is served at; its assets are under `${BASE}/assets/`. */
export const DASHBOARD_PATH = '/dashboard';

/**
 * The page may load only its own script, style and images, speak only to this server, and be
 * framed by no one: nothing inline, nothing from elsewhere (the app needs no network beyond it).
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

interface WebFile {
  type: string;
  body: Buffer;
  /** The body gzipped, when that makes it smaller. */
  gzipped: Buffer | null;
}

/** Every file of the built app, by its path under dist/web ('index.html', 'assets/index-3f2a.js'); small enough to hold in memory. */
function readWebFiles(dir: string): Map<string, WebFile> {
  const files = new Map<string, WebFile>();
  const walk = (at: string): void => {
    for (const name of readdirSync(at)) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) {
        walk(path);
        continue;
      }
      const body = readFileSync(path);
      const type = TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream';
      const gzipped = /^(text|image\/svg)|json/.test(type) ? gzipSync(body, { level: 9 }) : null;
      files.set(relative(dir, path).split(sep).join('/'), {
        type,
        body,
        gzipped: gzipped && gzipped.length < body.length ? gzipped : null,
      });
    }
  };
  walk(dir);
  return files;
}

/**
 * `GET /dashboard`: the web app (public: it signs in with the API's own credentials, kept in the
 * browser's sessionStorage). Every path of the app answers its index.html, which is never cached,
 * so a new build is picked up at the next load; the assets' names carry their content's hash and
 * are cached for a year. Registered only when the app is built (`npm run build`); otherwise the
 * server runs without it and says so.
 */
export function dashboardRoutes(app: FastifyInstance): void {
  const files = existsSync(join(WEB_DIR, 'index.html')) ? readWebFiles(WEB_DIR) : null;
  if (!files) {
    app.log.warn(`the web app is not built (npm run build makes ${WEB_DIR}); ${DASHBOARD_PATH} is off`);
    return;
  }
  const index = files.get('index.html')!;

  const send = (reply: FastifyReply, file: WebFile, acceptEncoding: string | undefined): FastifyReply => {
    reply.header('content-type', file.type);
    reply.header('content-security-policy', DASHBOARD_CSP);
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    reply.header('cross-origin-opener-policy', 'same-origin');
    if (file.gzipped) {
      reply.header('vary', 'accept-encoding');
      if (/\bgzip\b/.test(acceptEncoding ?? '')) {
        reply.header('content-encoding', 'gzip');
        return reply.send(file.gzipped);
      }
    }
    return reply.send(file.body);
  };

  // Pages, not part of the API: left out of the OpenAPI document.
  const options = { config: { public: true }, schema: { hide: true } };
  app.get(DASHBOARD_PATH, options, async (request, reply) => send(reply, index, request.headers['accept-encoding']));
  app.get(`${DASHBOARD_PATH}/*`, options, async (request, reply) => {
    const path = (request.params as { '*': string })['*'];
    if (path.startsWith('assets/')) {
      const file = files.get(path);
      if (!file) return reply.callNotFound();
      reply.header('cache-control', 'public, max-age=31536000, immutable');
      return send(reply, file, request.headers['accept-encoding']);
    }
    // A path of the app itself (/dashboard/tasks/…): the app reads it and shows that screen.
    return send(reply, index, request.headers['accept-encoding']);
  });
}
