import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { verifyWebhook } from '../../packages/client/src/webhooks.js';
import { TestClock } from '../../src/core/clock.js';
import { newId } from '../../src/core/ids.js';
import { hashToken, newToken } from '../../src/core/tokens.js';
import type { Credentials } from '../helpers/api-client.js';
import { b64, subscribeOk, waitForFinal, waitForTask } from '../helpers/api-tasks.js';
import { type RecordedRequest, TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

/*
 * Every attempt is signed per the Standard Webhooks specification: checked with the
 * `standardwebhooks` package (an implementation we did not write) and with a receiver's few lines
 * of node:crypto. The server runs on a test clock that starts at the real time (receivers refuse
 * timestamps five minutes off) and is moved by hand past retry and repeat intervals and the
 * rotation's grace period.
 */

const GRACE_SECONDS = 60;

/** The headers as a receiver's framework hands them over: one string each. */
function headersOf(request: RecordedRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) if (value !== undefined) out[name] = String(value);
  return out;
}

/** A receiver's own check, without any library: HMAC-SHA256 of `id.timestamp.body`, base64, against each `v1,` signature. */
function verifiesWith(secret: string, request: RecordedRequest): boolean {
  const headers = headersOf(request);
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key)
    .update(`${headers['webhook-id']}.${headers['webhook-timestamp']}.`)
    .update(request.body)
    .digest('base64');
  return (headers['webhook-signature'] ?? '').split(' ').some((s) => s === `v1,${expected}`);
}

/**
 * Verifies with the standardwebhooks package, then with our client's verifyWebhook; throws the
 * first one's error when the delivery does not verify (the second must agree).
 */
function verifyWithLibrary(secret: string, request: RecordedRequest): void {
  let verified = true;
  try {
    new Webhook(secret).verify(request.body, headersOf(request), { jsonParse: false });
  } catch (error) {
    verified = false;
    throw error;
  } finally {
    let ours = true;
    try {
      verifyWebhook({ secret, body: request.body, headers: request.headers });
    } catch {
      ours = false;
    }
    assert.equal(ours, verified, 'packages/client verifyWebhook agrees with standardwebhooks');
  }
}

describe('signed deliveries (Standard Webhooks)', { concurrency: false }, () => {
  const clock = new TestClock(Date.now());
  let server: TestServer;
  let target: TargetServer;
  let creds: Credentials & { signingSecret: string };

  /** Moves the clock on by `ms` and waits for the target to have `count` requests on `path`. */
  async function stepTo(count: number, path: string, ms: number): Promise<RecordedRequest[]> {
    clock.advance(ms);
    return target.waitForRequests(count, { path });
  }

  /**
   * Runs a task's attempts one after the other: each once the one before is recorded (its next time
   * is set then). Intervals grow linearly (retryExponential/repeatExponential are on by default).
   */
  async function runAttempts(taskId: string, path: string, count: number, intervalMs: number): Promise<number[]> {
    const sentAt: number[] = [];
    for (let n = 1; n <= count; n++) {
      if (n > 1) await waitForTask(server.client, creds, taskId, (task) => task.updates.attempts === n - 1);
      sentAt.push(clock.advance(n === 1 ? 10 : intervalMs * (n - 1)));
      await target.waitForRequests(n, { path });
    }
    return sentAt;
  }

  before(async () => {
    server = await startTestServer({ overrides: { clock }, env: { TASKS_POLL_MS: '50', TASKS_SIGNING_GRACE: String(GRACE_SECONDS) } });
    target = await TargetServer.start((request) => ({ status: request.url.startsWith('/fail') ? 500 : 200 }));
    const res = await server.client.request<Credentials & { signingSecret: string }>('POST', '/v1beta/register', {
      body: { email: `signing.${process.pid}.${Date.now()}@example.com` },
    });
    assert.equal(res.status, 201);
    creds = res.body;
  });
  after(async () => {
    await server?.close();
    await target?.close();
  });

  test('register answers a whsec_ secret once; /info never shows it', async () => {
    assert.match(creds.signingSecret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    const info = await server.client.request('GET', '/v1beta/info', { creds });
    assert.equal(JSON.stringify(info.body).includes(creds.signingSecret.slice(6)), false);
  });

  test('every retry of an execution verifies and shares its webhook-id; the timestamp is the send time', async () => {
    const body = '{"order":42,"note":"é"}';
    const task = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/fail/retries'), method: 'POST', data: b64(body), headers: { 'Content-Type': 'application/json' } },
      config: { retry: 2, retryInterval: 1_000 },
    });
    const sentAt = await runAttempts(task.id, '/fail/retries', 3, 1_000);
    await waitForFinal(server.client, creds, task.id);
    const attempts = target.requestsOn('/fail/retries');
    assert.equal(attempts.length, 3);
    attempts.forEach((attempt, i) => {
      assert.equal(attempt.body.toString('utf8'), body);
      verifyWithLibrary(creds.signingSecret, attempt);
      assert.ok(verifiesWith(creds.signingSecret, attempt));
      assert.equal(attempt.headers['webhook-id'], `msg_${task.id}_0`);
      assert.equal(attempt.headers['webhook-timestamp'], String(Math.floor(sentAt[i]! / 1000)));
      assert.equal(String(attempt.headers['webhook-signature']).split(' ').length, 1, 'one secret, one signature');
    });
  });

  test('each repeat has a new webhook-id; a body-less DELETE is signed over the empty body', async () => {
    const task = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/repeats'), method: 'DELETE' },
      config: { repeat: 2, repeatInterval: 1_000 },
    });
    await runAttempts(task.id, '/repeats', 3, 1_000);
    await waitForFinal(server.client, creds, task.id);
    const attempts = target.requestsOn('/repeats');
    assert.deepEqual(
      attempts.map((a) => a.headers['webhook-id']),
      [0, 1, 2].map((n) => `msg_${task.id}_${n}`),
    );
    for (const attempt of attempts) {
      assert.equal(attempt.body.length, 0);
      verifyWithLibrary(creds.signingSecret, attempt);
      assert.ok(verifiesWith(creds.signingSecret, attempt));
    }
  });

  test('a tampered body, another secret or an old timestamp does not verify', async () => {
    await subscribeOk(server.client, creds, { httpRequest: { url: target.url('/tamper'), method: 'POST', data: b64('{"a":1}') } });
    const [attempt] = await stepTo(1, '/tamper', 10);
    const tampered = { ...attempt!, body: Buffer.from('{"a":2}') };
    assert.throws(() => verifyWithLibrary(creds.signingSecret, tampered), /No matching signature/);
    assert.equal(verifiesWith(creds.signingSecret, tampered), false);
    const other = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    assert.throws(() => verifyWithLibrary(other, attempt!), /No matching signature/);
    const old = { ...attempt!, headers: { ...attempt!.headers, 'webhook-timestamp': String(Math.floor(Date.now() / 1000) - 3_600) } };
    assert.throws(() => verifyWithLibrary(creds.signingSecret, old), /too old|No matching/);
  });

  test('a user may not set the signature headers', async () => {
    const res = await server.client.subscribe(creds, {
      httpRequest: { url: target.url('/x'), method: 'POST', headers: { 'Webhook-Signature': 'v1,forged' } },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'VALIDATION_FAILED');
    assert.match(JSON.stringify(res.body), /httpRequest\.headers\.Webhook-Signature/);
  });

  test('rotation: the new secret and the old one both verify during the grace period, only the new one after', async () => {
    const old = creds.signingSecret;
    const rotated = await server.client.request<{ signingSecret: string; previousValidUntil: number | null }>(
      'POST',
      '/v1beta/signing-secret',
      { creds },
    );
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    const fresh = rotated.body.signingSecret;
    assert.match(fresh, /^whsec_/);
    assert.notEqual(fresh, old);
    assert.equal(rotated.body.previousValidUntil, clock.now() + GRACE_SECONDS * 1000);

    await subscribeOk(server.client, creds, { httpRequest: { url: target.url('/grace'), method: 'POST', data: b64('{"in":"grace"}') } });
    const [during] = await stepTo(1, '/grace', 10);
    const signatures = String(during!.headers['webhook-signature']).split(' ');
    assert.equal(signatures.length, 2, 'the new signature, then the old one');
    verifyWithLibrary(fresh, during!);
    verifyWithLibrary(old, during!);
    assert.ok(verifiesWith(fresh, during!) && verifiesWith(old, during!));
    // New first: a receiver that reads only the first signature already checks the new secret.
    assert.ok(verifiesWith(fresh, { ...during!, headers: { ...during!.headers, 'webhook-signature': signatures[0] } }));

    clock.advance(GRACE_SECONDS * 1000);
    await subscribeOk(server.client, creds, { httpRequest: { url: target.url('/after'), method: 'POST', data: b64('{"in":"after"}') } });
    const [afterGrace] = await stepTo(1, '/after', 10);
    assert.equal(String(afterGrace!.headers['webhook-signature']).split(' ').length, 1);
    verifyWithLibrary(fresh, afterGrace!);
    assert.throws(() => verifyWithLibrary(old, afterGrace!), /No matching signature/);
    creds = { ...creds, signingSecret: fresh };
  });

  test('a project registered before signing sends unsigned ids until its first rotation gives it a secret', async () => {
    const token = newToken();
    const id = newId(clock.now());
    await server.server.store.insertProject({
      id,
      email: `legacy.${process.pid}.${Date.now()}@example.com`,
      tokenHash: hashToken(token),
      createdAt: clock.now(),
      as: 'DEV',
    });
    const legacy = { id, token };
    const first = await subscribeOk(server.client, legacy, { httpRequest: { url: target.url('/legacy'), method: 'POST' } });
    const [unsigned] = await stepTo(1, '/legacy', 10);
    assert.equal(unsigned!.headers['webhook-id'], `msg_${first.id}_0`);
    assert.ok(unsigned!.headers['webhook-timestamp']);
    assert.equal(unsigned!.headers['webhook-signature'], undefined);

    const rotated = await server.client.request<{ signingSecret: string; previousValidUntil: number | null }>(
      'POST',
      '/v1beta/signing-secret',
      { creds: legacy },
    );
    assert.equal(rotated.status, 200);
    assert.equal(rotated.body.previousValidUntil, null);
    await subscribeOk(server.client, legacy, { httpRequest: { url: target.url('/legacy'), method: 'POST' } });
    const [, signed] = await stepTo(2, '/legacy', 10);
    assert.equal(String(signed!.headers['webhook-signature']).split(' ').length, 1);
    verifyWithLibrary(rotated.body.signingSecret, signed!);
  });

  test('the secret is stored sealed: the store holds no byte of it in the clear', async () => {
    const stored = await server.server.store.readSigningKeys(creds.id);
    assert.ok(stored);
    const key = Buffer.from(creds.signingSecret.slice('whsec_'.length), 'base64');
    assert.equal(Buffer.from(stored.current).includes(key.subarray(0, 8)), false);
    assert.equal(Buffer.from(stored.current).toString('latin1').includes(creds.signingSecret), false);
  });
});
