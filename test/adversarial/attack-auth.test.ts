/*
 * Attacks on authentication, against the real server process (`node dist/main.js`) on SQLite and
 * on Redis: every malformed, wrong, truncated, extended, borrowed or ambiguous credential answers
 * the same `401 UNAUTHORIZED` on every /v1beta route but register, before any body is read, and
 * never a 5xx; repeated failures from one client address block that address only; and the token
 * comparison goes through crypto.timingSafeEqual (checked by spying on it, never by timing).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import type * as NodeCrypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { FastifyRequest } from 'fastify';
import { createAuthenticator } from '../../src/api/auth.js';
import { FailureThrottle } from '../../src/api/failure-throttle.js';
import { isAppError } from '../../src/core/errors.js';
import { newId } from '../../src/core/ids.js';
import { hashToken, newToken, tokenMatches } from '../../src/core/tokens.js';
import type { TaskStore } from '../../src/store/task-store.js';
import { ApiClient, type ApiResponse, type Credentials, authHeaders } from '../helpers/api-client.js';
import { rawRequest, type RawResponse } from '../helpers/raw-http.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { PROCESS_ENV, type StoreKind, storeEnv } from '../helpers/server-env.js';
import { ProcessPool, type ServerProcess, spawnServer } from '../helpers/server-process.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

interface Route {
  name: string;
  method: string;
  path: string;
  body?: string;
}

const PROJECT = 'x-kuueri-tasks-project';
const UNKNOWN_ID = newId(Date.now());

/** Every /v1beta route that needs credentials, aimed at a real task of project A. */
function protectedRoutes(taskId: string, targetUrl: string): Route[] {
  const subscribe = JSON.stringify({ httpRequest: { url: targetUrl, method: 'POST' }, config: { executionDelay: '1h' } });
  return [
    { name: 'GET info', method: 'GET', path: '/v1beta/info' },
    { name: 'POST subscribe', method: 'POST', path: '/v1beta/subscribe', body: subscribe },
    { name: 'POST subscribe batch', method: 'POST', path: '/v1beta/subscribe/batch', body: `[${subscribe}]` },
    { name: 'GET task', method: 'GET', path: `/v1beta/queues/${taskId}` },
    { name: 'GET timeline', method: 'GET', path: `/v1beta/queues/${taskId}/timeline` },
    { name: 'PATCH pause', method: 'PATCH', path: `/v1beta/pause/${taskId}` },
    { name: 'PATCH resume', method: 'PATCH', path: `/v1beta/resume/${taskId}` },
    { name: 'PATCH unsubscribe', method: 'PATCH', path: `/v1beta/unsubscribe/${taskId}` },
    { name: 'PATCH execute', method: 'PATCH', path: `/v1beta/execute/${taskId}` },
    { name: 'PATCH reschedule', method: 'PATCH', path: `/v1beta/reschedule/${taskId}`, body: JSON.stringify({ executionDelay: '1h' }) },
    { name: 'DELETE task', method: 'DELETE', path: `/v1beta/queues/${taskId}` },
    { name: 'GET unknown task', method: 'GET', path: `/v1beta/queues/${UNKNOWN_ID}` },
    { name: 'GET malformed task id', method: 'GET', path: '/v1beta/queues/not-an-id' },
  ];
}

interface Variant {
  name: string;
  headers: Array<[string, string]>;
}

/** Changes the character at `index` of `token` into another character the token alphabet allows. */
function flip(token: string, index: number): string {
  const c = token[index]!;
  return token.slice(0, index) + (c === 'A' ? 'B' : 'A') + token.slice(index + 1);
}

/** Credentials that must all be refused with the same 401: `a` is the project the routes aim at. */
function badCredentials(a: Credentials, b: Credentials): Variant[] {
  const bearer = (token: string): [string, string] => ['authorization', `Bearer ${token}`];
  const project = (id: string): [string, string] => [PROJECT, id];
  return [
    { name: 'no credentials at all', headers: [] },
    { name: 'token without project header', headers: [bearer(a.token)] },
    { name: 'project header without authorization', headers: [project(a.id)] },
    { name: 'empty authorization', headers: [['authorization', ''], project(a.id)] },
    { name: 'empty project header', headers: [bearer(a.token), project('')] },
    { name: '"Bearer" and nothing else', headers: [['authorization', 'Bearer'], project(a.id)] },
    { name: 'token without a scheme', headers: [['authorization', a.token], project(a.id)] },
    {
      name: 'Basic scheme with id:token',
      headers: [['authorization', `Basic ${Buffer.from(`${a.id}:${a.token}`).toString('base64')}`], project(a.id)],
    },
    { name: 'Basic scheme with the token', headers: [['authorization', `Basic ${a.token}`], project(a.id)] },
    { name: 'Token scheme', headers: [['authorization', `Token ${a.token}`], project(a.id)] },
    { name: 'Bearer glued to the token', headers: [['authorization', `Bearer${a.token}`], project(a.id)] },
    { name: 'Bearer, a tab, the token', headers: [['authorization', `Bearer\t${a.token}`], project(a.id)] },
    { name: 'bearer, two spaces, a wrong token', headers: [['authorization', `bearer  ${flip(a.token, 10)}`], project(a.id)] },
    { name: 'Bearer with a Cyrillic e (unicode scheme)', headers: [['authorization', `B\u0435arer ${a.token}`], project(a.id)] },
    { name: 'token with a unicode last character', headers: [bearer(`${a.token.slice(0, -1)}\u00e9`), project(a.id)] },
    { name: 'token with a unicode character added', headers: [bearer(`${a.token}\u2603`), project(a.id)] },
    { name: 'token and trailing words', headers: [['authorization', `Bearer ${a.token} extra`], project(a.id)] },
    { name: 'two tokens in one header', headers: [['authorization', `Bearer ${a.token}, Bearer ${a.token}`], project(a.id)] },
    { name: 'truncated token (last character dropped)', headers: [bearer(a.token.slice(0, -1)), project(a.id)] },
    { name: 'truncated token (prefix only)', headers: [bearer('kt_'), project(a.id)] },
    { name: 'extended token (one character added)', headers: [bearer(`${a.token}A`), project(a.id)] },
    { name: 'token with the first random character changed', headers: [bearer(flip(a.token, 3)), project(a.id)] },
    { name: 'token with the last character changed', headers: [bearer(flip(a.token, a.token.length - 1)), project(a.id)] },
    { name: 'token without its kt_ prefix', headers: [bearer(a.token.slice(3)), project(a.id)] },
    {
      name: 'token upper-cased',
      headers: [bearer(a.token.toUpperCase() === a.token ? a.token.toLowerCase() : a.token.toUpperCase()), project(a.id)],
    },
    { name: 'a fresh, well-formed token nobody holds', headers: [bearer(newToken()), project(a.id)] },
    { name: "project B's token with project A's id", headers: [bearer(b.token), project(a.id)] },
    { name: "project A's token with project B's id", headers: [bearer(a.token), project(b.id)] },
    { name: 'project id lower-cased', headers: [bearer(a.token), project(a.id.toLowerCase())] },
    { name: 'project id of no project', headers: [bearer(a.token), project(UNKNOWN_ID)] },
    { name: 'project id followed by " ,"', headers: [bearer(a.token), project(`${a.id} ,`)] },
    { name: 'project header twice, same id', headers: [bearer(a.token), project(a.id), project(a.id)] },
    { name: "project header twice, A's then B's id", headers: [bearer(a.token), project(a.id), project(b.id)] },
    { name: "project header twice, B's then A's id", headers: [bearer(a.token), project(b.id), project(a.id)] },
    { name: 'project id and token swapped', headers: [bearer(a.id), project(a.token)] },
    {
      name: 'credentials in other header names',
      headers: [
        ['x-authorization', `Bearer ${a.token}`],
        ['x-kuueri-tasks-projects', a.id],
      ],
    },
    { name: 'an 8 KiB authorization header', headers: [['authorization', `Bearer ${a.token}${'A'.repeat(8_000)}`], project(a.id)] },
  ];
}

function describeAnswer(res: RawResponse): string {
  return `${res.status} ${res.body.slice(0, 300)}`;
}

function envFor(kind: StoreKind, dir: string, redis: RedisServer | null, extra: Record<string, string> = {}): Record<string, string> {
  return { ...PROCESS_ENV, ...storeEnv(dir, kind === 'redis' ? redis!.url : null), ...extra };
}

for (const kind of ['sqlite', 'redis'] as const) {
  describe(`authentication attacks on the real server process (${kind})`, () => {
    const pool = new ProcessPool();
    const dirs: string[] = [];
    let redis: RedisServer | null = null;
    let server: ServerProcess;
    let client: ApiClient;
    let a: Credentials;
    let b: Credentials;
    let taskId: string;
    let targetUrl: string;

    const newDir = (): string => {
      const dir = makeTempDir(`attack-auth-${kind}`);
      dirs.push(dir);
      return dir;
    };

    before(async () => {
      if (kind === 'redis') redis = await startRedisServer();
      const dir = newDir();
      server = pool.track(await spawnServer(envFor(kind, dir, redis), dir));
      client = new ApiClient(server.url);
      a = await client.register();
      b = await client.register();
      // The task the routes aim at: due in an hour, so nothing but the routes can change it.
      targetUrl = 'http://127.0.0.1:9/never';
      const res = await client.subscribe(a, { httpRequest: { url: targetUrl, method: 'POST' }, config: { executionDelay: '1h' } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      taskId = res.body.id as string;
    });

    after(async () => {
      await pool.killAll();
      await redis?.close();
      for (const dir of dirs) removeDir(dir);
    });

    /** Project A's task and queue are as they were: no refused request changed anything. */
    async function assertNothingChanged(): Promise<void> {
      const task = await client.task(a, taskId);
      assert.equal(task.status, 200, JSON.stringify(task.body));
      assert.equal(task.body.state, 'RUNNING', 'the task was neither paused, cancelled nor deleted');
      const timeline = await client.timeline(a, taskId);
      assert.deepEqual(
        timeline.body.map((e) => e.label),
        ['Subscribe'],
      );
      assert.equal((await client.info(a)).body.taskInQueue, 1, 'no task was subscribed for A');
      assert.equal((await client.info(b)).body.taskInQueue, 0, 'no task was subscribed for B');
    }

    test('every bad credential answers the same 401 UNAUTHORIZED on every protected route', async (t) => {
      const routes = protectedRoutes(taskId, targetUrl);
      const variants = badCredentials(a, b);
      const messages = new Map<string, string[]>();
      let sent = 0;
      for (const variant of variants) {
        for (const route of routes) {
          const headers: Array<[string, string]> = [...variant.headers];
          if (route.body !== undefined) headers.push(['content-type', 'application/json']);
          const res = await rawRequest(server.url, { method: route.method, path: route.path, headers, body: route.body });
          sent++;
          const where = `${route.name} with ${variant.name}`;
          assert.ok(res.status < 500, `${where} answered a server error: ${describeAnswer(res)}`);
          assert.equal(res.status, 401, `${where}: ${describeAnswer(res)}`);
          assert.equal(res.json?.code, 'UNAUTHORIZED', `${where}: ${describeAnswer(res)}`);
          assert.equal(res.json?.statusCode, 401, where);
          assert.equal(res.json?.error, 'Unauthorized', where);
          assert.deepEqual(
            Object.keys(res.json ?? {}).sort(),
            ['code', 'error', 'message', 'statusCode'],
            `${where}: nothing else in the body`,
          );
          const message = String(res.json?.message);
          messages.set(message, [...(messages.get(message) ?? []), where]);
        }
      }
      assert.equal(
        messages.size,
        1,
        `one message for every refusal, so a caller cannot tell which part was wrong; got ${messages.size}: ` +
          [...messages].map(([m, w]) => `${JSON.stringify(m)} (e.g. ${w[0]})`).join('; '),
      );
      await assertNothingChanged();
      t.diagnostic(
        `${sent} refused requests (${variants.length} credential variants x ${routes.length} routes), one message: ${[...messages.keys()][0]}`,
      );
    });

    test('two authorization headers are ambiguous credentials: 401 whichever of them comes first', async () => {
      // RFC 9110 §5.3: Authorization is not a list; two of them is a malformed request. The project
      // header twice is refused (above); the token twice must be too, or a proxy that reads the last
      // value and this server (node keeps the first) disagree on who is calling.
      const wrong = `Bearer ${flip(a.token, 3)}`;
      const good = `Bearer ${a.token}`;
      const orders: Array<[string, string[], string[]?]> = [
        ['wrong then good', [wrong, good]],
        ['good then wrong', [good, wrong]],
        ["good then B's", [good, `Bearer ${b.token}`]],
        ['good twice', [good, good]],
        // Header names are case-insensitive: these are still two authorization headers.
        ['good twice, as Authorization then AUTHORIZATION', [good, good], ['Authorization', 'AUTHORIZATION']],
        ["good as authorization, B's as Authorization", [good, `Bearer ${b.token}`], ['authorization', 'Authorization']],
      ];
      const answers: string[] = [];
      for (const [name, values, names = ['authorization', 'authorization']] of orders) {
        for (const route of protectedRoutes(taskId, targetUrl)
          .filter((r) => r.method === 'GET')
          .slice(0, 2)) {
          const headers: Array<[string, string]> = [...values.map((v, i): [string, string] => [names[i]!, v]), [PROJECT, a.id]];
          const res = await rawRequest(server.url, { method: route.method, path: route.path, headers });
          answers.push(`${route.name} with ${name}: ${res.status}`);
        }
      }
      const accepted = answers.filter((line) => !line.endsWith(': 401'));
      assert.deepEqual(accepted, [], `requests with two authorization headers were not refused:\n${accepted.join('\n')}`);
    });

    test('the good credentials work, so the refusals above are about the credentials', async () => {
      const res = await rawRequest(server.url, { method: 'GET', path: '/v1beta/info', headers: Object.entries(authHeaders(a)) });
      assert.equal(res.status, 200, describeAnswer(res));
      // Header names in any case, as HTTP allows.
      const upper = Object.entries(authHeaders(a)).map(([name, value]): [string, string] => [name.toUpperCase(), value]);
      const upperAnswer = await rawRequest(server.url, { method: 'GET', path: '/v1beta/info', headers: upper });
      assert.equal(upperAnswer.status, 200, describeAnswer(upperAnswer));
      assert.equal(res.json?.taskInQueue, 1);
      const task = await rawRequest(server.url, {
        method: 'GET',
        path: `/v1beta/queues/${taskId}`,
        headers: Object.entries(authHeaders(a)),
      });
      assert.equal(task.status, 200, describeAnswer(task));
      // Project B's good credentials do not reach A's task: 404, exactly as an unknown id.
      const other = await rawRequest(server.url, {
        method: 'GET',
        path: `/v1beta/queues/${taskId}`,
        headers: Object.entries(authHeaders(b)),
      });
      assert.equal(other.status, 404, describeAnswer(other));
      assert.equal(other.json?.code, 'TASK_NOT_FOUND');
    });

    test('credentials are checked before the body: bad JSON, another content type, an oversized body all answer 401', async () => {
      const wrong: Array<[string, string]> = [
        ['authorization', `Bearer ${flip(a.token, 20)}`],
        [PROJECT, a.id],
      ];
      const cases: Array<{ name: string; headers: Array<[string, string]>; body: string | Buffer }> = [
        { name: 'malformed JSON', headers: [['content-type', 'application/json']], body: '{"httpRequest": ' },
        { name: 'a __proto__ body', headers: [['content-type', 'application/json']], body: '{"__proto__": {"polluted": true}}' },
        { name: 'text/plain', headers: [['content-type', 'text/plain']], body: 'hello' },
        { name: 'no content type', headers: [], body: '{}' },
        { name: 'a body over the size limit', headers: [['content-type', 'application/json']], body: Buffer.alloc(300_000, 0x41) },
        {
          name: 'an invalid task',
          headers: [['content-type', 'application/json']],
          body: JSON.stringify({ httpRequest: { url: 'ftp://x', method: 'GET' }, extra: 1 }),
        },
      ];
      for (const variant of [wrong, [] as Array<[string, string]>]) {
        for (const c of cases) {
          const res = await rawRequest(server.url, {
            method: 'POST',
            path: '/v1beta/subscribe',
            headers: [...variant, ...c.headers],
            body: c.body,
          });
          assert.equal(
            res.status,
            401,
            `subscribe with ${c.name} and ${variant.length ? 'a wrong token' : 'no credentials'}: ${describeAnswer(res)}`,
          );
          assert.equal(res.json?.code, 'UNAUTHORIZED');
        }
      }
      await assertNothingChanged();
    });

    test('hostile bytes in the credential headers are refused (400 or 401), never let through, never a 5xx', async () => {
      const hostile: Variant[] = [
        {
          name: 'a NUL in the token',
          headers: [
            ['authorization', `Bearer ${a.token.slice(0, 10)}\u0000${a.token.slice(11)}`],
            [PROJECT, a.id],
          ],
        },
        {
          name: 'a DEL in the token',
          headers: [
            ['authorization', `Bearer ${a.token.slice(0, 10)}\u007f${a.token.slice(11)}`],
            [PROJECT, a.id],
          ],
        },
        {
          name: 'a control character in the project id',
          headers: [
            ['authorization', `Bearer ${a.token}`],
            [PROJECT, `${a.id.slice(0, 5)}\u0001${a.id.slice(6)}`],
          ],
        },
        {
          name: 'a vertical tab after Bearer',
          headers: [
            ['authorization', `Bearer\u000b${a.token}`],
            [PROJECT, a.id],
          ],
        },
        {
          name: 'a 20 KiB authorization header',
          headers: [
            ['authorization', `Bearer ${'A'.repeat(20_000)}`],
            [PROJECT, a.id],
          ],
        },
        {
          name: 'raw high bytes in the project id',
          headers: [
            ['authorization', `Bearer ${a.token}`],
            [PROJECT, '\u00ff'.repeat(26)],
          ],
        },
      ];
      for (const variant of hostile) {
        for (const route of protectedRoutes(taskId, targetUrl).slice(0, 3)) {
          const headers: Array<[string, string]> = [...variant.headers];
          if (route.body !== undefined) headers.push(['content-type', 'application/json']);
          const res = await rawRequest(server.url, { method: route.method, path: route.path, headers, body: route.body });
          const where = `${route.name} with ${variant.name}`;
          assert.ok([400, 401, 431].includes(res.status), `${where}: ${describeAnswer(res)}`);
        }
      }
      await assertNothingChanged();
      // The server is still serving.
      assert.equal((await client.info(a)).status, 200);
    });

    test('repeated failures from one client address block its failures (429, no store read), while a valid token still passes; another address is unaffected', async (t) => {
      const dir = newDir();
      const limited = pool.track(
        await spawnServer(
          envFor(kind, dir, redis, { TASKS_AUTH_FAILURE_LIMIT: '5', TASKS_AUTH_FAILURE_TTL: '600', TASKS_TRUST_PROXY: '127.0.0.1' }),
          dir,
        ),
      );
      const api = new ApiClient(limited.url);
      const creds = await api.register();
      // Registered, but never used on this server before A is blocked: the server does not hold it.
      const unseen = await api.register();
      const subscribeBody = { httpRequest: { url: targetUrl, method: 'POST' }, config: { executionDelay: '1h' } };
      const from = (address: string): Record<string, string> => ({ 'x-forwarded-for': address });
      const A = '203.0.113.10';
      const B = '198.51.100.20';
      const good = (address: string, path = '/v1beta/info', as = creds): Promise<ApiResponse> =>
        api.request('GET', path, { creds: as, headers: from(address) });
      const failures: Array<Record<string, string>> = [
        { authorization: `Bearer ${flip(creds.token, 3)}`, [PROJECT]: creds.id },
        { authorization: `Bearer ${creds.token}` },
        { authorization: `Basic ${creds.token}`, [PROJECT]: creds.id },
        { authorization: `Bearer ${creds.token}`, [PROJECT]: a.id },
        { authorization: `Bearer ${creds.token.slice(0, -1)}`, [PROJECT]: creds.id },
      ];
      const fail = async (address: string, headers: Record<string, string>): Promise<number> =>
        (await api.request('GET', '/v1beta/info', { headers: { ...headers, ...from(address) } })).status;

      assert.equal((await good(A)).status, 200, 'A is served before it fails');
      for (const [i, headers] of failures.entries()) {
        assert.equal(await fail(A, headers), 401, `failure ${i + 1} of A is a plain 401`);
      }
      // Blocked: every further failure answers 429 and tells nothing.
      const blocked = await api.request('GET', '/v1beta/info', { headers: { ...failures[0]!, ...from(A) } });
      assert.equal(blocked.status, 429, `A after ${failures.length} failures: ${JSON.stringify(blocked.body)}`);
      assert.equal(blocked.body.code, 'RATE_LIMITED');
      for (const headers of failures.slice(1)) assert.equal(await fail(A, headers), 429, 'every kind of failure from A is blocked');
      assert.ok(!JSON.stringify(blocked.body).includes(creds.token), 'the 429 does not echo the token');
      // A project the server does not hold would cost a store read: refused while A is blocked, and nothing is stored.
      assert.equal((await good(A, '/v1beta/info', unseen)).status, 429, 'an unseen project waits out the block');
      const unseenSubscribe = await api.request('POST', '/v1beta/subscribe', { creds: unseen, headers: from(A), body: subscribeBody });
      assert.equal(unseenSubscribe.status, 429, JSON.stringify(unseenSubscribe.body));
      // The working client behind A, with its valid token, is still served on every route.
      assert.equal((await good(A)).status, 200, 'a valid token passes from a blocked address');
      assert.equal((await good(A, `/v1beta/queues/${UNKNOWN_ID}`)).status, 404);
      const subscribedFromA = await api.request('POST', '/v1beta/subscribe', { creds, headers: from(A), body: subscribeBody });
      assert.equal(subscribedFromA.status, 201, JSON.stringify(subscribedFromA.body));

      // B: four failures are not enough; the fifth blocks B's failures as well.
      assert.equal((await good(B)).status, 200, "B is not blocked by A's failures");
      for (const headers of failures.slice(0, 4)) assert.equal(await fail(B, headers), 401);
      assert.equal(await fail(B, failures[4]!), 401, 'the fifth failure of B is still answered 401');
      assert.equal(await fail(B, failures[0]!), 429, 'after its fifth failure B is blocked');
      const subscribed = await api.request('POST', '/v1beta/subscribe', { creds, headers: from(B), body: subscribeBody });
      assert.equal(subscribed.status, 201, JSON.stringify(subscribed.body));

      // The direct address (no X-Forwarded-For) and a third one are untouched; the unseen project stored nothing.
      const direct = await api.info(creds);
      assert.equal(direct.status, 200, JSON.stringify(direct.body));
      assert.equal(direct.body.taskInQueue, 2, 'the subscribes with a valid token from A and B were stored');
      assert.equal((await api.info(unseen)).body.taskInQueue, 0, "the unseen project's blocked subscribe stored nothing");
      assert.equal((await good('192.0.2.30')).status, 200);
      // Register is public: not blocked for A.
      const registered = await api.request('POST', '/v1beta/register', {
        body: { email: `blocked-${Date.now()}@example.com` },
        headers: from(A),
      });
      assert.equal(registered.status, 201, JSON.stringify(registered.body));
      t.diagnostic(
        `blocked answer: ${JSON.stringify(blocked.body)}; retry-after header: ${blocked.headers.get('retry-after') ?? '(none)'}`,
      );
      await limited.kill('SIGKILL');
    });
  });
}

describe('the token comparison goes through crypto.timingSafeEqual', () => {
  const require = createRequire(import.meta.url);
  const cryptoModule = require('node:crypto') as typeof NodeCrypto;
  const original = cryptoModule.timingSafeEqual;
  const calls: Array<{ a: number; b: number }> = [];

  before(() => {
    cryptoModule.timingSafeEqual = (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView): boolean => {
      calls.push({ a: a.byteLength, b: b.byteLength });
      return original(a, b);
    };
    syncBuiltinESMExports();
  });

  after(() => {
    cryptoModule.timingSafeEqual = original;
    syncBuiltinESMExports();
  });

  test('tokenMatches: one timingSafeEqual of two 32-byte hashes per check; first- and last-character changes are refused alike', () => {
    const token = newToken();
    const stored = hashToken(token);
    const cases: Array<[string, string, boolean]> = [
      ['the token', token, true],
      ['first random character changed', flip(token, 3), false],
      ['last character changed', flip(token, token.length - 1), false],
      ['first character of the prefix changed', `x${token.slice(1)}`, false],
      ['truncated', token.slice(0, -1), false],
      ['extended', `${token}A`, false],
      ['empty', '', false],
    ];
    for (const [name, presented, expected] of cases) {
      calls.length = 0;
      assert.equal(tokenMatches(presented, stored), expected, name);
      assert.deepEqual(calls, [{ a: 32, b: 32 }], `${name}: compared once through timingSafeEqual, hash against hash`);
    }
    // A stored hash of another length is refused without throwing (timingSafeEqual would throw on it).
    calls.length = 0;
    assert.equal(tokenMatches(token, stored.subarray(0, 16)), false);
  });

  test('the authenticator compares even when the project does not exist (no early answer for unknown ids)', async () => {
    const store = { findProject: async () => null } as unknown as TaskStore;
    const auth = createAuthenticator(store, new FailureThrottle(1_000, 60_000, { now: () => Date.now() }));
    const request = {
      clientAddress: '192.0.2.1',
      headers: { authorization: `Bearer ${newToken()}`, [PROJECT]: newId(Date.now()) },
    } as unknown as FastifyRequest;
    calls.length = 0;
    await assert.rejects(
      async () => auth.authenticate(request),
      (error: unknown) => isAppError(error) && error.code === 'UNAUTHORIZED',
    );
    assert.deepEqual(calls, [{ a: 32, b: 32 }], 'an unknown project costs one constant-time comparison against a dummy hash');
  });

  test('the module source uses timingSafeEqual and no plain comparison of hashes or tokens', () => {
    const source = readFileSync(new URL('../../src/core/tokens.ts', import.meta.url), 'utf8');
    assert.match(source, /import\s*\{[^}]*\btimingSafeEqual\b[^}]*\}\s*from\s*'node:crypto'/);
    const body = /export function tokenMatches[\s\S]*?\n\}/.exec(source)?.[0] ?? '';
    assert.ok(body.includes('timingSafeEqual('), `tokenMatches calls timingSafeEqual:\n${body}`);
    assert.doesNotMatch(
      body,
      /\.equals\(|\.compare\(|===\s*(presented|storedHash|token)\b(?!\.length)|\b(presented|storedHash|token)\s*===/,
      'no early-exit comparison of the secrets',
    );
    const auth = readFileSync(new URL('../../src/api/auth.ts', import.meta.url), 'utf8');
    assert.match(auth, /tokenMatches\(/, 'the authenticator compares through tokenMatches');
    assert.doesNotMatch(auth, /tokenHash\s*===|===\s*project\.tokenHash|\.equals\(/, 'the authenticator does not compare hashes itself');
  });
});
