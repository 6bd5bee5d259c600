/*
 * No route, error answer or log line ever holds a project token or a secret a task carries, and
 * nothing the Redis store keeps (or is sent) holds them in plain text. Against the real server
 * process at TASKS_LOG_LEVEL=trace, on SQLite and on Redis: tasks carry secrets in header values
 * (one of them `Authorization`), a query parameter, the URL's own query and the body; they succeed,
 * fail (the target echoing the secrets back), succeed after a retry, repeat, time out, are reset,
 * are refused by the target guard at subscribe and at dispatch, are paused, resumed, cancelled and
 * deleted; every route is called (the inbox and the metrics, with their token, too), and every error
 * path with the secrets in the request, some of them in an X-Request-Id. Then every
 * answer (body and headers), the whole output of the process, every key of Redis databases 0-3
 * (SCAN), every command Redis received (MONITOR) and its append-only files are searched for every
 * secret, its hex, base64 and base64url forms at every alignment.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { createTargetPolicy, parseTargetList } from '../../src/core/target-policy.js';
import type { TaskView } from '../../src/core/shapes.js';
import { ApiClient, type ApiResponse, type Credentials } from '../helpers/api-client.js';
import { waitForFinal } from '../helpers/api-tasks.js';
import { scanEveryValue } from '../helpers/redis-scan.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { PROCESS_ENV, type StoreKind } from '../helpers/server-env.js';
import { logLines, ProcessPool, type ServerProcess, spawnServer } from '../helpers/server-process.js';
import { TargetServer } from '../helpers/target-server.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

/** An X-Request-Id of the shape the server keeps. */
const SAFE_REQUEST_ID = 'edge-7f3a.1:42';

/** The secrets of one run: random, so any occurrence anywhere is a leak, never a coincidence. */
function makeSecrets(): Record<
  'header' | 'targetAuth' | 'param' | 'urlQuery' | 'body' | 'cryptoKey' | 'redisPassword' | 'metricsToken',
  string
> {
  return {
    header: `hdr-${hex(12)}`,
    targetAuth: `tauth-${hex(12)}`,
    param: `prm${hex(12)}`,
    urlQuery: `urlq${hex(12)}`,
    body: `body-${hex(12)}`,
    cryptoKey: hex(32),
    redisPassword: `rpw${hex(12)}`,
    metricsToken: `mtk_${hex(16)}`,
  };
}

interface Needle {
  name: string;
  text: string;
  /** What to look for in bytes, when it is not the UTF-8 of `text`. */
  bytes?: Buffer;
}

/** The secret as text, as hex, and base64/base64url at each of the three byte alignments. */
function formsOf(name: string, secret: string): Needle[] {
  const out: Needle[] = [
    { name, text: secret },
    { name: `${name} (hex)`, text: Buffer.from(secret).toString('hex') },
  ];
  for (let offset = 0; offset < 3; offset++) {
    const aligned = Buffer.concat([Buffer.alloc(offset, 0x20), Buffer.from(secret)]);
    for (const encoding of ['base64', 'base64url'] as const) {
      const encoded = aligned.toString(encoding);
      // The first and last groups mix with whatever surrounds the secret: search the middle.
      out.push({ name: `${name} (${encoding}, offset ${offset})`, text: encoded.slice(4, encoded.length - 4) });
    }
  }
  return out;
}

/** Every run of `length` characters of the secret, for answers that might quote part of it. */
function fragmentsOf(name: string, secret: string, length = 10): Needle[] {
  const out: Needle[] = [];
  for (let i = 0; i + length <= secret.length; i++)
    out.push({ name: `${name} (characters ${i}-${i + length - 1})`, text: secret.slice(i, i + length) });
  return out;
}

function findIn(haystack: string | Buffer, needles: readonly Needle[]): string[] {
  const found: string[] = [];
  for (const needle of needles) {
    if (needle.text.length < 8) continue;
    const hit = typeof haystack === 'string' ? haystack.includes(needle.text) : haystack.includes(needle.bytes ?? Buffer.from(needle.text));
    if (hit) found.push(needle.name);
  }
  return found;
}

interface Recorded {
  what: string;
  status: number;
  text: string;
  /** The register answer shows the token once, by design. */
  showsToken: boolean;
  /** GET /v1beta/inbox shows the requests the inbox received, secrets and all, by design. */
  showsInbox: boolean;
}

/** An ApiClient that keeps every answer (status, headers and body) for the search. */
class RecordingClient extends ApiClient {
  readonly answers: Recorded[] = [];
  label = '';

  override async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: { body?: unknown; rawBody?: string; headers?: Record<string, string>; creds?: Credentials } = {},
  ): Promise<ApiResponse<T>> {
    const res = await super.request<T>(method, path, options);
    const headers = [...res.headers.entries()].map(([k, v]) => `${k}: ${v}`).join('\n');
    this.answers.push({
      what: `${this.label || `${method} ${path.split('?')[0]}`} -> ${res.status}`,
      status: res.status,
      text: `${headers}\n\n${typeof res.body === 'string' ? res.body : JSON.stringify(res.body)}`,
      showsToken: method === 'POST' && path === '/v1beta/register' && res.status === 201,
      showsInbox: method === 'GET' && path === '/v1beta/inbox' && res.status === 200,
    });
    return res;
  }
}

/** Every file under `dir` (recursively), as bytes. */
function filesUnder(dir: string): Array<{ path: string; bytes: Buffer }> {
  const out: Array<{ path: string; bytes: Buffer }> = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push({ path, bytes: readFileSync(path) });
  }
  return out;
}

/**
 * A host name that resolves only to addresses the guard refuses (with only `localhost` allowed):
 * this machine's own name usually resolves to loopback or a private address. Null when it does not.
 */
async function refusedHostName(): Promise<string | null> {
  const name = hostname();
  if (!name || name === 'localhost') return null;
  try {
    const addresses = await lookup(name, { all: true });
    const policy = createTargetPolicy(parseTargetList(['localhost']));
    return addresses.length > 0 && addresses.every((a) => policy.refuseAddress(a.address, 80) !== null) ? name : null;
  } catch {
    return null;
  }
}

for (const kind of ['sqlite', 'redis'] as const satisfies readonly StoreKind[]) {
  describe(`no token or stored secret leaks through answers, logs or Redis (${kind})`, () => {
    const pool = new ProcessPool();
    const secrets = makeSecrets();
    let dir: string;
    let redis: RedisServer | null = null;
    let redisUrl = '';
    let monitor: Redis | null = null;
    let feed: Redis | null = null;
    const monitored: string[] = [];
    let target: TargetServer;
    let server: ServerProcess;
    let api: RecordingClient;
    let creds: Credentials;
    let other: Credentials;
    const ids: Record<string, string> = {};
    let guardHost: string | null = null;

    const needles = (): Needle[] => [
      ...formsOf('token', creds.token),
      ...formsOf('token (random part)', creds.token.slice(3)),
      ...formsOf("the other project's token", other.token),
      ...formsOf('header secret', secrets.header),
      ...formsOf('Authorization header secret', secrets.targetAuth),
      ...formsOf('query parameter secret', secrets.param),
      ...formsOf('URL query secret', secrets.urlQuery),
      ...formsOf('body secret', secrets.body),
      ...formsOf('body secret as sent (base64)', Buffer.from(secrets.body).toString('base64')),
      { name: 'encryption key (hex)', text: secrets.cryptoKey },
      { name: 'encryption key (raw bytes)', text: secrets.cryptoKey, bytes: Buffer.from(secrets.cryptoKey, 'hex') },
      { name: 'encryption key (base64 of its bytes)', text: Buffer.from(secrets.cryptoKey, 'hex').toString('base64').slice(0, 40) },
      ...(kind === 'redis' ? [{ name: 'Redis password', text: secrets.redisPassword }] : []),
      ...formsOf('metrics token', secrets.metricsToken),
    ];

    /** The request a task sends, every secret in it. */
    const httpRequest = (url: string, method = 'POST'): Record<string, unknown> => ({
      url: `${url}${url.includes('?') ? '&' : '?'}sig=${secrets.urlQuery}`,
      method,
      data: Buffer.from(secrets.body).toString('base64'),
      params: { apikey: secrets.param },
      headers: { 'X-Api-Key': secrets.header, Authorization: `Bearer ${secrets.targetAuth}`, 'Content-Type': 'text/plain' },
    });

    before(async () => {
      dir = makeTempDir(`attack-secrets-${kind}`);
      const flaky = new Set<string>();
      target = await TargetServer.start((request) => {
        const path = request.url.split('?')[0];
        // Answers that carry the secrets back: a server must not copy what a target says into a timeline or a log.
        const echo = {
          body: `echo ${request.url} ${JSON.stringify(request.headers)} ${request.body.toString()}`,
          headers: { 'x-echo': secrets.header },
        };
        if (path === '/fail') return { status: 500, ...echo };
        if (path === '/hang') return { hang: true };
        if (path === '/reset') return { reset: true };
        if (path === '/flaky') {
          const id = String(request.headers['x-kuueri-tasks-queue']);
          if (!flaky.has(id)) {
            flaky.add(id);
            return { status: 503, ...echo };
          }
        }
        return { status: 200, ...echo };
      });
      let store: Record<string, string>;
      if (kind === 'redis') {
        const password = secrets.redisPassword;
        redis = await startRedisServer({
          persistence: true,
          args: ['--requirepass', password],
          pingUrl: (port) => `redis://:${password}@127.0.0.1:${port}`,
        });
        redisUrl = `redis://:${password}@127.0.0.1:${redis.port}`;
        // Everything the server sends to Redis, from before it starts.
        monitor = new Redis(redisUrl, { lazyConnect: true });
        await monitor.connect();
        feed = await monitor.monitor();
        feed.on('monitor', (_time: string, args: string[]) => monitored.push(args.join(' ')));
        store = { TASKS_DB: redisUrl };
      } else {
        store = { TASKS_DB: `sqlite:${join(dir, 'tasks.db')}` };
      }
      guardHost = await refusedHostName();
      server = pool.track(
        await spawnServer(
          {
            ...PROCESS_ENV,
            ...store,
            TASKS_CRYPTO_KEY: secrets.cryptoKey,
            TASKS_LOG_LEVEL: 'trace',
            TASKS_METRICS_TOKEN: secrets.metricsToken,
            // Only the name localhost is allowed: literal 127.0.0.1 is refused at subscribe, and this
            // machine's own name (resolving to loopback or a private address) at dispatch.
            TASKS_ALLOW_TARGETS: 'localhost',
          },
          dir,
        ),
      );
      api = new RecordingClient(server.url);
      creds = await api.register();
      other = await api.register();
    });

    after(async () => {
      await pool.killAll();
      await target.close();
      feed?.disconnect();
      monitor?.disconnect();
      await redis?.close();
      removeDir(dir);
    });

    const local = (path: string): string => `http://localhost:${target.port}${path}`;
    const waitFinal = (id: string): Promise<TaskView> => waitForFinal(api, creds, id);

    test('tasks with secrets succeed, fail, retry, repeat, time out, are reset, refused and managed; every error path is hit', async (t) => {
      const subscribe = async (name: string, body: Record<string, unknown>): Promise<string> => {
        api.label = `subscribe ${name}`;
        const res = await api.subscribe(creds, body);
        assert.equal(res.status, 201, `${name}: ${JSON.stringify(res.body)}`);
        return (ids[name] = res.body.id as string);
      };
      await subscribe('ok', { httpRequest: httpRequest(local('/ok')) });
      await subscribe('fail', { httpRequest: httpRequest(local('/fail')) });
      await subscribe('flaky', { httpRequest: httpRequest(local('/flaky')), config: { retry: 1, retryInterval: '1s' } });
      await subscribe('repeat', { httpRequest: httpRequest(local('/ok'), 'PUT'), config: { repeat: 1, repeatInterval: '1s' } });
      await subscribe('timeout', { httpRequest: httpRequest(local('/hang')), config: { timeout: '300ms' } });
      await subscribe('reset', { httpRequest: httpRequest(local('/reset'), 'PATCH') });
      await subscribe('managed', { httpRequest: httpRequest(local('/ok'), 'DELETE'), config: { executionDelay: '1h' } });
      await subscribe('deleted', { httpRequest: httpRequest(local('/ok'), 'GET'), config: { executionDelay: '1h' } });
      if (guardHost) await subscribe('guard', { httpRequest: httpRequest(`http://${guardHost}:${target.port}/guarded`) });
      else t.diagnostic(`this machine's name (${hostname()}) does not resolve to a refused address: no dispatch-time guard refusal here`);

      // Managing: every route, in every state it allows and some it does not.
      api.label = '';
      const managed = ids.managed!;
      assert.equal((await api.pause(creds, managed)).status, 200);
      assert.equal((await api.pause(creds, managed)).status, 409);
      assert.equal((await api.resume(creds, managed)).status, 200);
      assert.equal((await api.remove(creds, managed)).status, 409, 'a RUNNING task cannot be deleted');
      assert.equal((await api.unsubscribe(creds, managed)).status, 200);
      assert.equal((await api.resume(creds, managed)).status, 409);
      assert.equal((await api.pause(creds, ids.deleted!)).status, 200);
      assert.equal((await api.remove(creds, ids.deleted!)).status, 200);
      assert.equal((await api.task(creds, ids.deleted!)).status, 404);
      assert.equal((await api.timeline(creds, ids.deleted!)).status, 404);
      assert.equal((await api.task(other, managed)).status, 404, "another project's task");
      assert.equal((await api.timeline(other, managed)).status, 404);
      assert.equal((await api.pause(other, managed)).status, 404);

      // Error paths, each carrying the secrets.
      const withSecrets = httpRequest(local('/ok'));
      const errors: Array<{ name: string; call: () => Promise<ApiResponse>; status: number }> = [
        {
          name: 'CR LF in a header value',
          call: () => api.subscribe(creds, { httpRequest: { ...withSecrets, headers: { 'X-Api-Key': `x\r\n${secrets.header}` } } }),
          status: 400,
        },
        {
          name: 'a header value too long',
          call: () => api.subscribe(creds, { httpRequest: { ...withSecrets, headers: { 'X-Api-Key': secrets.header.repeat(60) } } }),
          status: 400,
        },
        {
          name: 'a header value that is an object',
          call: () => api.subscribe(creds, { httpRequest: { ...withSecrets, headers: { 'X-Api-Key': { v: secrets.header } } } }),
          status: 400,
        },
        {
          name: 'a param value that is a number',
          call: () => api.subscribe(creds, { httpRequest: { ...withSecrets, params: { apikey: secrets.param, n: 1 } } }),
          status: 400,
        },
        {
          name: 'an unknown field holding a secret',
          call: () => api.subscribe(creds, { httpRequest: withSecrets, secret: secrets.header, token: creds.token }),
          status: 400,
        },
        {
          name: 'the same header twice',
          call: () =>
            api.subscribe(creds, {
              httpRequest: { ...withSecrets, headers: { 'X-Api-Key': secrets.header, 'x-api-key': secrets.targetAuth } },
            }),
          status: 400,
        },
        {
          name: 'a reserved header',
          call: () =>
            api.subscribe(creds, {
              httpRequest: { ...withSecrets, headers: { Host: secrets.header, 'X-Kuueri-Tasks-Queue': secrets.targetAuth } },
            }),
          status: 400,
        },
        {
          name: 'data that is not base64',
          call: () => api.subscribe(creds, { httpRequest: { ...withSecrets, data: `${secrets.body}!!` } }),
          status: 400,
        },
        {
          name: 'bad config next to the secrets',
          call: () => api.subscribe(creds, { httpRequest: withSecrets, config: { retry: -1, timeout: secrets.header } }),
          status: 400,
        },
        {
          name: 'credentials in the URL',
          call: () =>
            api.subscribe(creds, { httpRequest: { ...withSecrets, url: `http://user:${secrets.header}@localhost:${target.port}/x` } }),
          status: 400,
        },
        {
          name: 'a literal loopback target (guard at subscribe)',
          call: () => api.subscribe(creds, { httpRequest: httpRequest(`http://127.0.0.1:${target.port}/ok`) }),
          status: 400,
        },
        {
          name: 'a link-local target (guard at subscribe)',
          call: () => api.subscribe(creds, { httpRequest: httpRequest('http://169.254.169.254/latest') }),
          status: 400,
        },
        {
          name: 'JSON cut short',
          call: () =>
            api.request('POST', '/v1beta/subscribe', {
              creds,
              rawBody: JSON.stringify({ httpRequest: withSecrets }).slice(0, -3),
              headers: { 'content-type': 'application/json' },
            }),
          status: 400,
        },
        {
          name: 'JSON with a __proto__ key',
          call: () =>
            api.request('POST', '/v1beta/subscribe', {
              creds,
              rawBody: `{"__proto__":{"x":1},"httpRequest":${JSON.stringify(withSecrets)}}`,
              headers: { 'content-type': 'application/json' },
            }),
          status: 400,
        },
        {
          name: 'text/plain body',
          call: () =>
            api.request('POST', '/v1beta/subscribe', {
              creds,
              rawBody: JSON.stringify({ httpRequest: withSecrets }),
              headers: { 'content-type': 'text/plain' },
            }),
          status: 415,
        },
        {
          name: 'a body over the limit',
          call: () =>
            api.request('POST', '/v1beta/subscribe', {
              creds,
              rawBody: JSON.stringify({ httpRequest: withSecrets, pad: secrets.header.repeat(6_000) }),
              headers: { 'content-type': 'application/json' },
            }),
          status: 413,
        },
        {
          name: 'a wrong token (last character changed)',
          call: () =>
            api.subscribe(
              { id: creds.id, token: `${creds.token.slice(0, -1)}${creds.token.endsWith('A') ? 'B' : 'A'}` },
              { httpRequest: withSecrets },
            ),
          status: 401,
        },
        {
          name: "the other project's id with this token",
          call: () => api.subscribe({ id: other.id, token: creds.token }, { httpRequest: withSecrets }),
          status: 401,
        },
        {
          name: 'the token without the project',
          call: () => api.request('GET', '/v1beta/info', { headers: { authorization: `Bearer ${creds.token}` } }),
          status: 401,
        },
        {
          name: 'the token in the query string',
          call: () => api.request('GET', `/v1beta/info?token=${creds.token}&key=${secrets.header}`),
          status: 401,
        },
        {
          name: 'an unknown route with secrets in its query',
          call: () => api.request('GET', `/v1beta/nothing?token=${creds.token}&key=${secrets.header}`, { creds }),
          status: 404,
        },
        {
          name: 'register with a token for an email',
          call: () => api.request('POST', '/v1beta/register', { body: { email: creds.token } }),
          status: 400,
        },
        {
          name: 'register with an unknown field',
          call: () => api.request('POST', '/v1beta/register', { body: { email: `x${hex(4)}@example.com`, token: creds.token } }),
          status: 400,
        },
        {
          name: 'a task id that is not one',
          call: () => api.request('GET', `/v1beta/queues/${ids.ok!.toLowerCase()}?key=${secrets.header}`, { creds }),
          status: 404,
        },
      ];
      for (const e of errors) {
        api.label = e.name;
        const res = await e.call();
        assert.equal(res.status, e.status, `${e.name}: ${JSON.stringify(res.body)}`);
      }
      api.label = '';

      // Outcomes: every task that runs reaches its final state.
      const expected: Record<string, string> = {
        ok: 'COMPLETED',
        fail: 'ERROR',
        flaky: 'COMPLETED',
        repeat: 'COMPLETED',
        timeout: 'ERROR',
        reset: 'ERROR',
        managed: 'CANCELED',
      };
      if (guardHost) expected.guard = 'ERROR';
      for (const [name, state] of Object.entries(expected)) {
        const task = await waitFinal(ids[name]!);
        assert.equal(task.state, state, `${name}: ${JSON.stringify(task)}`);
        const timeline = await api.timeline(creds, ids[name]!);
        assert.equal(timeline.status, 200);
        if (name === 'guard') {
          assert.ok(
            timeline.body.some((e) => /refused/i.test(e.description)),
            `the guard refused it at dispatch: ${JSON.stringify(timeline.body)}`,
          );
        }
      }
      assert.equal((await api.info(creds)).status, 200);
      assert.equal((await api.info(other)).status, 200);
      api.label = 'health';
      assert.equal((await api.request('GET', '/healthz')).status, 200);
      api.label = '';

      // The inbox: a task sends every secret to it, and a client does too; it shows them, then is emptied.
      const inboxPath = `/inbox/${creds.id}`;
      await subscribe('inbox', { httpRequest: httpRequest(`${server.url}${inboxPath}`) });
      assert.equal((await waitFinal(ids.inbox!)).state, 'COMPLETED', 'the task reached the inbox');
      api.label = 'a request to the inbox with every secret';
      const pushed = await api.request('PUT', `${inboxPath}?apikey=${secrets.param}&sig=${secrets.urlQuery}`, {
        rawBody: secrets.body,
        headers: { 'x-api-key': secrets.header, authorization: `Bearer ${secrets.targetAuth}`, 'content-type': 'text/plain' },
      });
      assert.equal(pushed.status, 200, JSON.stringify(pushed.body));
      api.label = 'inbox read';
      const inbox = await api.request<{ requests: unknown[] }>('GET', '/v1beta/inbox', { creds });
      assert.equal(inbox.status, 200);
      assert.equal(inbox.body.requests.length, 2, 'the task and the client request');
      assert.equal((await api.request('DELETE', '/v1beta/inbox', { creds })).status, 200);

      // The metrics: refused without their token (or with a secret in its place), answered with it.
      for (const [what, authorization, status] of [
        ['no metrics token', undefined, 401],
        ['a project token for the metrics', `Bearer ${creds.token}`, 401],
        ['a secret for the metrics token', `Bearer ${secrets.header}`, 401],
        ['the metrics token', `Bearer ${secrets.metricsToken}`, 200],
      ] as const) {
        api.label = what;
        const res = await api.request('GET', '/metrics', { headers: authorization ? { authorization } : {} });
        assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body).slice(0, 200)}`);
      }

      // Request ids: one of a safe shape is kept (and logged: the control for the log search), a
      // secret-bearing one is replaced.
      api.label = 'a safe request id';
      const kept = await api.request('GET', '/v1beta/info', { creds, headers: { 'x-request-id': SAFE_REQUEST_ID } });
      assert.equal(kept.headers.get('x-request-id'), SAFE_REQUEST_ID);
      for (const unsafe of [`Bearer ${creds.token}`, creds.token, `${secrets.header}=`, `k=${secrets.param}`]) {
        api.label = 'a secret in X-Request-Id';
        const res = await api.request('GET', '/v1beta/info', { creds, headers: { 'x-request-id': unsafe } });
        assert.equal(res.status, 200);
        assert.notEqual(res.headers.get('x-request-id'), unsafe);
      }
      api.label = '';

      // Control: the target did receive every secret, as sent.
      const received = target.requests.filter((r) => r.url.startsWith('/ok') || r.url.startsWith('/fail'));
      assert.ok(received.length >= 2, 'the target was reached');
      for (const r of received) {
        assert.equal(r.headers['x-api-key'], secrets.header);
        assert.equal(r.headers.authorization, `Bearer ${secrets.targetAuth}`);
        assert.ok(r.url.includes(`sig=${secrets.urlQuery}`) && r.url.includes(`apikey=${secrets.param}`), r.url);
        if (r.method !== 'DELETE' && r.method !== 'GET') assert.equal(r.body.toString(), secrets.body);
      }
      t.diagnostic(`${api.answers.length} answers recorded; target received ${target.requests.length} requests`);
    });

    test('no answer the API sent (bodies and headers) holds a token or a secret, in any form', () => {
      assert.ok(api.answers.length >= 40, `the scenario ran (${api.answers.length} answers)`);
      const all = needles();
      const leaks: string[] = [];
      for (const answer of api.answers) {
        // The inbox shows what it received (the tokens it never received must still not show).
        const relevant = answer.showsToken
          ? all.filter((n) => !/token/.test(n.name))
          : answer.showsInbox
            ? all.filter((n) => /token|key|password/.test(n.name))
            : all;
        const found = findIn(answer.text, relevant);
        if (found.length > 0) leaks.push(`${answer.what}: ${found.join(', ')}\n    ${answer.text.replace(/\n/g, ' | ').slice(0, 400)}`);
      }
      assert.deepEqual(leaks, [], `answers holding a secret:\n${leaks.join('\n')}`);
      // Control: the register answer does show the token (so the search would see one), the inbox the secrets.
      assert.ok(api.answers.some((a) => a.showsToken && a.text.includes(creds.token)));
      assert.ok(api.answers.some((a) => a.showsInbox && a.text.includes(secrets.header)));
    });

    test('error answers do not quote any part of a secret the refused request carried (no 10-character fragment)', async (t) => {
      // A malformed body is answered with the parser's message: it must not quote the body back.
      const bodies: Array<[string, string]> = [
        ['a token pasted as the body', creds.token],
        ['"Bearer <token>" as the body', `Bearer ${creds.token}`],
        [
          'an unquoted header secret',
          `{"httpRequest":{"url":"${local('/ok')}","method":"POST","headers":{"X-Api-Key":${secrets.header}}}}`,
        ],
        ['an unquoted body secret', `{"httpRequest":{"data":${secrets.body}}}`],
        ['a secret after a stray character', `x${JSON.stringify({ httpRequest: { headers: { 'X-Api-Key': secrets.header } } })}`],
      ];
      const quoted: string[] = [];
      const fragments = [
        ...fragmentsOf('token', creds.token),
        ...fragmentsOf('header secret', secrets.header),
        ...fragmentsOf('body secret', secrets.body),
      ];
      for (const [name, body] of bodies) {
        api.label = `malformed body: ${name}`;
        const res = await api.request('POST', '/v1beta/subscribe', {
          creds,
          rawBody: body,
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(res.status, 400, `${name}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.code, 'INVALID_JSON');
        const found = findIn(JSON.stringify(res.body), fragments);
        if (found.length > 0) quoted.push(`${name}: ${String(res.body.message)} (quotes ${found[0]})`);
      }
      api.label = '';
      t.diagnostic(`${bodies.length} malformed bodies, ${quoted.length} answers quoting a secret`);
      assert.deepEqual(quoted, [], `INVALID_JSON answers quote the refused body, secrets included:\n${quoted.join('\n')}`);
    });

    test('the whole output of the process at log level trace holds no token and no secret', async () => {
      // Stop it gracefully, so the shutdown lines are in the output too.
      assert.deepEqual(await server.kill('SIGTERM'), { code: 0, signal: null });
      const output = server.output();
      const lines = logLines(output);
      // Control: the log covers the scenario (request lines are at info, 30).
      assert.ok(
        lines.some((l) => l.level === 30 && l.msg === 'request'),
        'request lines are logged at info',
      );
      assert.ok(lines.length >= 50, `the scenario was logged (${lines.length} lines)`);
      // One line per request: its id, method, route template, status and time; never its URL.
      const requests = lines.filter((l) => l.msg === 'request');
      assert.ok(requests.length >= 40, `request lines (${requests.length})`);
      for (const line of requests) {
        assert.equal(typeof line.reqId, 'string', JSON.stringify(line));
        assert.ok(typeof line.route === 'string' && typeof line.status === 'number' && typeof line.ms === 'number', JSON.stringify(line));
        assert.equal(line.url, undefined, 'no URL');
      }
      assert.ok(
        requests.some((l) => l.reqId === SAFE_REQUEST_ID && l.projectId === creds.id && l.route === '/v1beta/info'),
        "the caller's request id and the project are in its request's line",
      );
      assert.ok(requests.some((l) => l.route === '/inbox/:projectId' && l.method === 'PUT'));
      assert.ok(
        requests.some((l) => l.route === '/v1beta/queues/:id' && typeof l.taskId === 'string' && l.taskId.length > 0),
        'a request about a task names it',
      );
      assert.ok(requests.some((l) => l.route === '/metrics' && l.status === 401));
      // One line per attempt outcome: task, project, attempt number, outcome, status, time.
      const attempts = lines.filter((l) => l.msg === 'attempt succeeded' || l.msg === 'attempt failed');
      for (const line of attempts) {
        assert.ok(typeof line.taskId === 'string' && line.projectId === creds.id, JSON.stringify(line));
        assert.ok(
          typeof line.attempt === 'number' && typeof line.outcome === 'string' && typeof line.ms === 'number',
          JSON.stringify(line),
        );
      }
      assert.ok(
        attempts.some((l) => l.taskId === ids.flaky && l.attempt === 2 && l.outcome === 'delivered'),
        'the retried task: its second attempt',
      );
      const found = findIn(output, needles());
      assert.deepEqual(found, [], `the server's output holds: ${found.join(', ')}`);
    });

    if (kind === 'redis') {
      test('Redis: no key or value of databases 0-3, no command Redis received and no append-only file holds a secret', async (t) => {
        const client = new Redis(redisUrl, { lazyConnect: true });
        await client.connect();
        try {
          const values = await scanEveryValue(client);
          const all = needles();
          const leaks: string[] = [];
          let sealedRequests = 0;
          for (const value of values) {
            const found = value.parts.flatMap((part) => findIn(part, all));
            if (found.length > 0) leaks.push(`db ${value.db} ${value.type} ${value.key}: ${[...new Set(found)].join(', ')}`);
            if (value.key.startsWith('kt:task:') && value.parts.some((p) => p.toString() === 'request')) sealedRequests++;
          }
          // Control: the scan saw the records (tasks still kept: all but the deleted one).
          const keys = values.map((v) => `${v.db}:${v.key}`);
          assert.ok(keys.includes(`0:kt:project:${creds.id}`), 'the project record is scanned');
          assert.ok(
            keys.includes(`1:kt:task:${ids.ok!}`) && keys.includes(`2:kt:config:${ids.ok!}`) && keys.includes(`3:kt:timeline:${ids.ok!}`),
          );
          assert.ok(sealedRequests >= 7, `sealed requests found: ${sealedRequests}`);
          assert.deepEqual(leaks, [], `stored in plain text:\n${leaks.join('\n')}`);

          // Every command the server sent to Redis (MONITOR): no secret travelled in plain text.
          assert.ok(
            monitored.some((c) => c.includes(ids.ok!)),
            'MONITOR saw the server write the tasks',
          );
          const sent = monitored.flatMap((command) => findIn(command, all).map((name) => `${name} in: ${command.slice(0, 200)}`));
          assert.deepEqual(sent, [], `commands carrying a secret:\n${sent.join('\n')}`);

          // The append-only files on disk.
          const [, redisDir] = (await client.config('GET', 'dir')) as [string, string];
          const aofHolds = (id: string): boolean => filesUnder(redisDir).some((f) => f.path.includes('appendonly') && f.bytes.includes(id));
          await waitFor('the AOF to hold the last task written', () => aofHolds(ids.ok!), { timeoutMs: 10_000, everyMs: 100 });
          const files = filesUnder(redisDir).filter((f) => !f.path.endsWith('redis.log'));
          const onDisk = files.flatMap((f) => findIn(f.bytes, all).map((name) => `${name} in ${f.path}`));
          assert.deepEqual(onDisk, [], `on disk:\n${onDisk.join('\n')}`);
          t.diagnostic(
            `${values.length} keys scanned in databases 0-3, ${monitored.length} commands monitored, ${files.length} files read in ${redisDir}`,
          );
        } finally {
          client.disconnect();
        }
      });
    } else {
      test('SQLite: the database files hold neither the token nor the encryption key', () => {
        const files = readdirSync(dir)
          .filter((f) => f.startsWith('tasks.db'))
          .map((f) => ({ path: join(dir, f), bytes: readFileSync(join(dir, f)) }));
        assert.ok(
          files.some((f) => f.bytes.includes(creds.id)),
          'control: the project id is stored in the clear',
        );
        const found = files.flatMap((f) => findIn(f.bytes, needles()).map((name) => `${name} in ${f.path}`));
        assert.deepEqual(found, [], found.join('\n'));
      });
    }
  });
}
