/*
 * GET /metrics: the Prometheus text of one server's own registry, on the real server with real
 * attempts to a real target. Every metric docs/operations.md names is there with its type; the
 * counters move as subscribes, attempts, store calls and requests happen; HTTP requests are labelled
 * by route template, never by a URL holding ids; with a metrics token set, a scrape without it is
 * refused with a coded 401. Values are waited for on the scrape itself (waitFor), never on time.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Credentials } from '../helpers/api-client.js';
import { assertError } from '../helpers/api-assertions.js';
import { subscribeOk, waitForFinal } from '../helpers/api-tasks.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait.js';

/** Every metric of the server's own, with its type: docs/operations.md lists the same (checked below). */
const METRICS: Record<string, 'counter' | 'gauge' | 'histogram'> = {
  kuueri_tasks_subscribes_total: 'counter',
  kuueri_tasks_deliveries_total: 'counter',
  kuueri_tasks_attempt_duration_seconds: 'histogram',
  kuueri_tasks_attempt_lateness_seconds: 'histogram',
  kuueri_tasks_attempts_in_flight: 'gauge',
  kuueri_tasks_due_backlog: 'gauge',
  kuueri_tasks_store_operation_duration_seconds: 'histogram',
  kuueri_tasks_http_requests_total: 'counter',
  kuueri_tasks_http_request_duration_seconds: 'histogram',
};

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of an exposition text (label values here hold no escaped quotes). */
function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)) labels[key!] = value!;
    out.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return out;
}

/** The sum of the samples named `name` whose labels include `labels`. */
function valueOf(all: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return all
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

async function scrape(server: TestServer, headers: Record<string, string> = {}): Promise<{ text: string; all: Sample[] }> {
  const res = await fetch(`${server.url}/metrics`, { headers });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return { text, all: samples(text) };
}

describe('GET /metrics', () => {
  let server: TestServer;
  let target: TargetServer;
  let creds: Credentials;

  before(async () => {
    server = await startTestServer();
    target = await TargetServer.start((request) => {
      if (request.url.startsWith('/fail')) return { status: 500 };
      if (request.url.startsWith('/hang')) return { hang: true };
      return { status: 200 };
    });
    creds = await server.client.register();
  });
  after(async () => {
    await server?.close();
    await target?.close();
  });

  test('names every metric with its type, the process ones beside them, every outcome from the start', async () => {
    const { text, all } = await scrape(server);
    for (const [name, type] of Object.entries(METRICS)) assert.ok(text.includes(`\n# TYPE ${name} ${type}\n`), `${name} is a ${type}`);
    assert.ok(text.includes('# TYPE process_cpu_user_seconds_total counter'), "prom-client's process metrics");
    assert.ok(text.includes('# TYPE nodejs_eventloop_lag_seconds gauge'), "and Node.js's");
    for (const outcome of ['delivered', 'failed', 'no_answer', 'refused']) {
      assert.ok(
        all.some((s) => s.name === 'kuueri_tasks_deliveries_total' && s.labels.outcome === outcome),
        `deliveries_total{outcome="${outcome}"} shows before any attempt`,
      );
    }
  });

  test('docs/operations.md names the same metrics', () => {
    const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    const named = new Set(doc.match(/kuueri_tasks_[a-z_]+/g) ?? []);
    assert.deepEqual([...named].filter((n) => !/_(bucket|sum|count)$/.test(n)).sort(), Object.keys(METRICS).sort());
  });

  test('the example Grafana dashboard queries only metrics the server exports, through its datasource variable', async () => {
    const { text } = await scrape(server);
    const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    const dashboard = JSON.parse(readFileSync(new URL('../../resource/grafana/kuueri-tasks-dashboard.json', import.meta.url), 'utf8')) as {
      panels: Array<{ title: string; datasource: { uid: string }; targets: Array<{ expr: string }> }>;
    };
    assert.ok(dashboard.panels.length > 0);
    const unknown: string[] = [];
    for (const panel of dashboard.panels) {
      assert.equal(panel.datasource.uid, '${datasource}', panel.title);
      for (const { expr } of panel.targets) {
        for (const [name] of expr.matchAll(/\b(?:kuueri_tasks|process|nodejs)_[a-z0-9_]+/g)) {
          if (!exported.has(name.replace(/_(bucket|sum|count)$/, ''))) unknown.push(`${panel.title}: ${name}`);
        }
      }
    }
    assert.deepEqual(unknown, []);
  });

  test('subscribes, outcomes, durations, lateness, store calls and requests are counted as they happen', async () => {
    const before = (await scrape(server)).all;
    const ok = await subscribeOk(server.client, creds, { httpRequest: { url: target.url('/ok'), method: 'POST' } });
    const failed = await subscribeOk(server.client, creds, { httpRequest: { url: target.url('/fail'), method: 'POST' } });
    const batch = await server.client.subscribeBatch(creds, [
      { httpRequest: { url: target.url('/ok'), method: 'POST' } },
      { httpRequest: { url: target.url('/ok'), method: 'POST' } },
    ]);
    assert.equal(batch.status, 200);
    assert.equal((await waitForFinal(server.client, creds, ok.id)).state, 'COMPLETED');
    assert.equal((await waitForFinal(server.client, creds, failed.id)).state, 'ERROR');

    const moved = (all: readonly Sample[], name: string, labels?: Record<string, string>): number =>
      valueOf(all, name, labels) - valueOf(before, name, labels);
    const after = await waitFor('the attempts of the four tasks to be counted', async () => {
      const { all } = await scrape(server);
      return moved(all, 'kuueri_tasks_deliveries_total') >= 4 ? all : null;
    });
    assert.equal(moved(after, 'kuueri_tasks_subscribes_total'), 4, 'two subscribes and a batch of two');
    assert.equal(moved(after, 'kuueri_tasks_deliveries_total', { outcome: 'delivered' }), 3);
    assert.equal(moved(after, 'kuueri_tasks_deliveries_total', { outcome: 'failed' }), 1);
    assert.equal(moved(after, 'kuueri_tasks_attempt_duration_seconds_count', { outcome: 'delivered' }), 3);
    assert.equal(moved(after, 'kuueri_tasks_attempt_duration_seconds_count', { outcome: 'failed' }), 1);
    assert.equal(moved(after, 'kuueri_tasks_attempt_lateness_seconds_count'), 4);
    assert.ok(moved(after, 'kuueri_tasks_store_operation_duration_seconds_count', { operation: 'insertTask' }) >= 2);
    assert.ok(moved(after, 'kuueri_tasks_store_operation_duration_seconds_count', { operation: 'insertTasks' }) >= 1);
    assert.ok(moved(after, 'kuueri_tasks_store_operation_duration_seconds_count', { operation: 'claimDue' }) >= 1);
    assert.ok(moved(after, 'kuueri_tasks_store_operation_duration_seconds_count', { operation: 'replaceTask' }) >= 4);
    const subscribes = { method: 'POST', route: '/v1beta/subscribe', status: '201' };
    assert.equal(moved(after, 'kuueri_tasks_http_requests_total', subscribes), 2);
    assert.equal(moved(after, 'kuueri_tasks_http_requests_total', { route: '/v1beta/subscribe/batch', status: '200' }), 1);
    assert.equal(moved(after, 'kuueri_tasks_http_request_duration_seconds_count', { method: 'POST', route: '/v1beta/subscribe' }), 2);
  });

  test('attempts in flight are a gauge of this process: up while a target holds the request, down once it answers', async () => {
    const inFlight = async (): Promise<number> => valueOf((await scrape(server)).all, 'kuueri_tasks_attempts_in_flight');
    const task = await subscribeOk(server.client, creds, { httpRequest: { url: target.url('/hang'), method: 'POST' } });
    await waitFor('the attempt to be in flight', async () => (await inFlight()) === 1);
    await target.waitForRequests(1, { path: '/hang' });
    target.answerHeld(200);
    await waitForFinal(server.client, creds, task.id);
    await waitFor('no attempt in flight', async () => (await inFlight()) === 0);
  });

  test('requests are labelled by route template: no task id, project id or query in any label; unmatched routes share one', async () => {
    const task = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/ok'), method: 'POST' },
      config: { executionDelay: '1h' },
    });
    assert.equal((await server.client.task(creds, task.id)).status, 200);
    const missing = await server.client.request('GET', `/v1beta/nothing/${task.id}?q=${creds.id}`, { creds });
    assertError(missing, 404, 'NOT_FOUND');
    assert.equal((await server.client.request('GET', `/inbox/${creds.id}?x=1`)).status, 200);

    const { text, all } = await scrape(server);
    const requests = all.filter((s) => s.name === 'kuueri_tasks_http_requests_total');
    assert.ok(valueOf(requests, 'kuueri_tasks_http_requests_total', { method: 'GET', route: '/v1beta/queues/:id', status: '200' }) >= 1);
    assert.ok(valueOf(requests, 'kuueri_tasks_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }) >= 1);
    assert.ok(valueOf(requests, 'kuueri_tasks_http_requests_total', { route: '/inbox/:projectId' }) >= 1);
    for (const s of requests) assert.ok(s.labels.route === 'unmatched' || s.labels.route!.startsWith('/'), JSON.stringify(s.labels));
    assert.ok(!text.includes(task.id), 'no task id anywhere in the scrape');
    assert.ok(!text.includes(creds.id), 'no project id anywhere in the scrape');
  });

  test("each answer carries a request id: a new one, or the caller's when it has a safe shape", async () => {
    const fresh = await fetch(`${server.url}/healthz`);
    assert.match(fresh.headers.get('x-request-id') ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const again = await fetch(`${server.url}/healthz`);
    assert.notEqual(again.headers.get('x-request-id'), fresh.headers.get('x-request-id'));
    const given = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'edge-4f2a.17:9' } });
    assert.equal(given.headers.get('x-request-id'), 'edge-4f2a.17:9');
    for (const unsafe of [creds.token, 'a b', 'x'.repeat(65), 'id/../1', 'aGVsbG8=']) {
      const res = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': unsafe } });
      const answered = res.headers.get('x-request-id') ?? '';
      assert.notEqual(answered, unsafe, `${unsafe} is not kept`);
      assert.match(answered, /^[0-9a-f-]{36}$/);
    }
  });
});

describe('GET /metrics with a metrics token', () => {
  const token = 'metrics-token-0123456789abcdef';
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ env: { TASKS_METRICS_TOKEN: token } });
  });
  after(async () => {
    await server?.close();
  });

  test('without the token, or with another, answers 401 UNAUTHORIZED; with it, the metrics', async () => {
    const creds = await server.client.register();
    const refusals: Array<[string, Record<string, string>]> = [
      ['no authorization', {}],
      ['a wrong token', { authorization: `Bearer ${token.slice(0, -1)}x` }],
      ['the token without Bearer', { authorization: token }],
      ['a project token', { authorization: `Bearer ${creds.token}`, 'x-kuueri-tasks-project': creds.id }],
    ];
    for (const [what, headers] of refusals) {
      const res = await server.client.request('GET', '/metrics', { headers });
      assertError(res, 401, 'UNAUTHORIZED');
      assert.equal(res.headers.get('www-authenticate'), 'Bearer', what);
    }
    const { text } = await scrape(server, { authorization: `Bearer ${token}` });
    assert.ok(text.includes('# TYPE kuueri_tasks_deliveries_total counter'));
    assert.ok(text.includes('route="/metrics",status="401"'), 'the refusals were counted');
  });
});
