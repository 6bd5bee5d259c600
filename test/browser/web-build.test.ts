/*
 * The built web app as the server hands it out (after `npm run build`): small enough to load fast
 * on first visit, under a strict Content-Security-Policy, with nothing inline for that policy to
 * have to allow, its page never cached and its hashed assets cached for good.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { request } from 'node:http';
import { gunzipSync, gzipSync } from 'node:zlib';
import { assertError } from '../helpers/api-assertions.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

/** The budget for the JavaScript a first visit loads, gzipped: a phone on a slow link still starts quickly. */
const FIRST_LOAD_JS_BUDGET = 80 * 1024;

const WEB_DIR = new URL('../../dist/web/', import.meta.url);

describe('the web app as served at /dashboard', () => {
  let server: TestServer;
  let index: string;

  before(async () => {
    server = await startTestServer();
    index = readFileSync(new URL('index.html', WEB_DIR), 'utf8');
  });
  after(() => server.close());

  /** The scripts the page loads at once: its module entry and what it preloads. */
  const firstLoadScripts = (): string[] =>
    [...index.matchAll(/<script[^>]*\ssrc="([^"]+)"|<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g)].map((m) => (m[1] ?? m[2])!);

  test(`the JavaScript of a first load is at most ${FIRST_LOAD_JS_BUDGET / 1024} KB gzipped`, () => {
    const scripts = firstLoadScripts();
    assert.ok(scripts.length > 0, 'the page loads a script');
    const sizes = scripts.map((src) => {
      assert.match(src, /^\/dashboard\/assets\/[\w.-]+\.js$/, 'served from this server, under the app');
      return gzipSync(readFileSync(new URL(src.slice('/dashboard/'.length), WEB_DIR)), { level: 9 }).length;
    });
    const total = sizes.reduce((a, b) => a + b, 0);
    assert.ok(total <= FIRST_LOAD_JS_BUDGET, `first load is ${total} bytes of gzipped JavaScript (${scripts.join(', ')})`);
  });

  test('the page has no inline script, style or event handler, so its CSP needs no exception', () => {
    assert.doesNotMatch(index, /<script(?![^>]*\ssrc=)[^>]*>/, 'every script is a file');
    assert.doesNotMatch(index, /<style|\sstyle=/, 'no inline style');
    assert.doesNotMatch(index, /\son[a-z]+=/i, 'no inline handler');
  });

  test('every path of the app answers the page, under a strict CSP, never cached', async () => {
    for (const path of [
      '/dashboard',
      '/dashboard/',
      '/dashboard/tasks/01ARZ3NDEKTSV4RRFFQ69G5FAV',
      '/dashboard/inbox',
      '/dashboard/schedules',
    ]) {
      const res = await fetch(server.url + path);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8', path);
      assert.equal(await res.text(), index, `${path} answers the app's page`);
      assert.equal(res.headers.get('cache-control'), 'no-store', path);
      const csp = res.headers.get('content-security-policy') ?? '';
      for (const directive of [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
      ]) {
        assert.ok(csp.split('; ').includes(directive), `${path}: CSP has ${directive} (${csp})`);
      }
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, `${path}: no exception in the CSP`);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    }
  });

  test('the hashed assets are cached for a year, gzipped when asked, and an unknown one is 404', async () => {
    const [script] = firstLoadScripts();
    const plain = await fetch(server.url + script!, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(plain.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(plain.headers.get('content-encoding'), null);
    const body = Buffer.from(await plain.arrayBuffer());

    // fetch would undo the gzip by itself: read the raw answer through node:http instead.
    const raw = await new Promise<{ encoding: string | undefined; bytes: Buffer }>((resolve, reject) => {
      request(server.url + script!, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ encoding: res.headers['content-encoding'], bytes: Buffer.concat(chunks) }));
      })
        .on('error', reject)
        .end();
    });
    assert.equal(raw.encoding, 'gzip');
    assert.deepEqual(gunzipSync(raw.bytes), body, 'the gzipped answer is the same file');

    const missing = await server.client.request('GET', '/dashboard/assets/nothing-here.js');
    assertError(missing, 404, 'NOT_FOUND');
  });
});
