import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { ROUTE_DOCS, routeKey } from '../../src/api/openapi.js';
import { UNKNOWN_ID } from '../helpers/api-assertions.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

interface Operation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  security?: Array<Record<string, string[]>>;
  responses: Record<string, { description: string }>;
}
interface Document {
  openapi: string;
  tags: Array<{ name: string }>;
  paths: Record<string, Record<string, Operation>>;
}

describe('the OpenAPI document and the interactive docs', () => {
  let server: TestServer;
  let doc: Document;
  const operations = (): Array<{ method: string; path: string; op: Operation }> =>
    Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
    );

  before(async () => {
    server = await startTestServer();
    const res = await server.client.request<Document>('GET', '/v1beta/openapi.json');
    assert.equal(res.status, 200);
    doc = res.body;
  });
  after(() => server.close());

  test('GET /v1beta/openapi.json answers a valid OpenAPI 3.1 document without credentials', async () => {
    assert.equal(doc.openapi, '3.1.0');
    const result = await new Validator().validate(doc as unknown as Record<string, unknown>);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
  });

  test('every route has a summary and a declared tag (a row of ROUTE_DOCS in src/api/openapi.ts), and every row a route', () => {
    const tags = new Set(doc.tags.map((t) => t.name));
    const documented = new Set<string>();
    for (const { method, path, op } of operations()) {
      const where = `${method} ${path}`;
      assert.ok(op.summary, `${where} has no summary: add it to ROUTE_DOCS`);
      assert.equal(op.tags?.length, 1, where);
      assert.ok(tags.has(op.tags[0]!), `${where}: tag ${op.tags[0]} is not declared`);
      documented.add(routeKey(method, path.replace(/\{(\w+)\}/g, ':$1')));
    }
    assert.deepEqual(
      Object.keys(ROUTE_DOCS).filter((key) => !documented.has(key)),
      [],
      'rows of ROUTE_DOCS with no route',
    );
  });

  test('every operation but the inbox of many methods has an operationId (a generated client names its method by it), each used once', () => {
    const seen = new Set<string>();
    const without = new Set<string>();
    for (const { method, path, op } of operations()) {
      if (op.operationId === undefined) {
        without.add(path);
        continue;
      }
      assert.match(op.operationId, /^[a-z][A-Za-z]*$/, `${method} ${path}`);
      assert.ok(!seen.has(op.operationId), `${op.operationId} is used twice`);
      seen.add(op.operationId);
    }
    // One route answers every method there, so one id cannot name its operations: add any other's to ROUTE_DOCS.
    assert.deepEqual([...without], ['/inbox/{projectId}']);
    assert.ok(seen.has('subscribe') && seen.has('listTasks'), [...seen].join(', '));
  });

  test('every operation documents its error answers with the error body', () => {
    for (const { method, path, op } of operations()) {
      const errors = Object.entries(op.responses).filter(([status]) => Number(status) >= 400);
      assert.ok(
        errors.some(([status]) => status === '500'),
        `${method} ${path} documents no 500`,
      );
      for (const [status, response] of errors) assert.match(response.description, /^`[A-Z_]+`: /, `${method} ${path} ${status}`);
    }
  });

  test('the documented security is what the server asks: secured operations answer 401 without credentials, the others do not', async () => {
    const secured: string[] = [];
    for (const { method, path, op } of operations()) {
      const url = path.replace('{id}', UNKNOWN_ID).replace('{projectId}', UNKNOWN_ID);
      const res = await server.client.request(method, url);
      const where = `${method} ${path} answered ${res.status}`;
      if ((op.security ?? []).length > 0) {
        assert.deepEqual(op.security, [{ bearerToken: [], projectId: [] }], where);
        assert.equal(res.status, 401, where);
        secured.push(path);
      } else {
        assert.notEqual(res.status, 401, where);
      }
    }
    assert.ok(secured.includes('/v1beta/subscribe'), 'subscribe is documented as secured');
  });

  test('/docs loads every asset from this server, under a Content-Security-Policy without unsafe-inline', async () => {
    const res = await fetch(`${server.url}/docs`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/, 'scripts from this server only');
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/, csp);
    const html = await res.text();
    assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(html, /\sstyle=|<style/, 'no inline style');
    const assets = [...html.matchAll(/\s(?:src|href)="([^"]+)"/g)].map((m) => new URL(m[1]!, `${server.url}/docs`));
    assert.ok(assets.length >= 4, `assets: ${assets.join(', ')}`);
    assert.ok(
      assets.some((a) => a.pathname.endsWith('/swagger-initializer.js')),
      'the initializer is a file',
    );
    for (const asset of assets) {
      assert.equal(asset.origin, new URL(server.url).origin, `${asset.href} is on this server`);
      const answer = await fetch(asset);
      assert.equal(answer.status, 200, asset.href);
      await answer.arrayBuffer();
    }
  });

  test('the document the docs page reads is the one /v1beta/openapi.json answers', async () => {
    const initializer = await (await fetch(`${server.url}/docs/static/swagger-initializer.js`)).text();
    assert.match(initializer, /resolveUrl\('\.\/json'\)/);
    const res = await server.client.request('GET', '/docs/json');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, doc);
  });
});
