/*
 * verifyWebhook and signWebhook (packages/client/src/webhooks.ts) against an independent
 * implementation of Standard Webhooks, the `standardwebhooks` package: what it signs, ours
 * verifies; what ours signs, it verifies; and anything changed on the way is refused. The last test
 * receives signed requests on a real HTTP server, as a receiver does.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type IncomingHttpHeaders, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import {
  DEFAULT_TOLERANCE_SECONDS,
  type WebhookFailure,
  WebhookVerificationError,
  signWebhook,
  verifyWebhook,
} from '../../packages/client/src/webhooks.js';

const newSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;

/** A fixed moment (Unix seconds), and a clock at it for our verifier. */
const T = 1_767_225_600;
const at = (seconds: number) => (): number => seconds * 1000;

/** The three headers the `standardwebhooks` package makes for a message. */
function signedByReference(secret: string, id: string, timestamp: number, body: string | Uint8Array): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': new Webhook(secret).sign(id, new Date(timestamp * 1000), body),
  };
}

function refusedFor(reason: WebhookFailure): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof WebhookVerificationError, String(error));
    assert.equal(error.reason, reason);
    return true;
  };
}

describe('verifyWebhook against the standardwebhooks package', () => {
  test('a message the reference signs verifies, for a string body, its bytes, non-ASCII text and non-UTF-8 bytes', () => {
    const secret = newSecret();
    const bodies: Array<string | Uint8Array> = [
      '{"hello":"world"}',
      new TextEncoder().encode('{"hello":"world"}'),
      'héllo wörld ✓ 日本',
      Uint8Array.from([0xff, 0xfe, 0x00, 0x80]),
      '',
    ];
    for (const body of bodies) {
      const headers = signedByReference(secret, 'msg_1', T, body);
      assert.deepEqual(verifyWebhook({ secret, body, headers, now: at(T) }), { id: 'msg_1', timestamp: T });
    }
  });

  test('a message ours signs verifies with the reference, and a string body signs as its UTF-8 bytes', () => {
    const secret = newSecret();
    const now = Math.floor(Date.now() / 1000);
    for (const body of ['{"a":1}', 'ünïcödé', Uint8Array.from([1, 2, 250])]) {
      const signature = signWebhook({ secret, id: 'msg_2', timestamp: now, body });
      assert.match(signature, /^v1,[A-Za-z0-9+/]+=*$/);
      const headers = { 'webhook-id': 'msg_2', 'webhook-timestamp': String(now), 'webhook-signature': signature };
      assert.doesNotThrow(() => new Webhook(secret).verify(body, headers, { jsonParse: false }));
    }
    assert.equal(
      signWebhook({ secret, id: 'x', timestamp: T, body: 'ü' }),
      signWebhook({ secret, id: 'x', timestamp: T, body: new TextEncoder().encode('ü') }),
    );
  });

  test('a changed body, id or timestamp, another secret, or a cut signature is refused', () => {
    const secret = newSecret();
    const body = '{"amount":100}';
    const headers = signedByReference(secret, 'msg_3', T, body);
    const refused = (changes: { body?: string; headers?: Record<string, string>; secret?: string }): void => {
      assert.throws(
        () =>
          verifyWebhook({
            secret: changes.secret ?? secret,
            body: changes.body ?? body,
            headers: { ...headers, ...changes.headers },
            now: at(T),
          }),
        refusedFor('no-matching-signature'),
      );
    };
    refused({ body: '{"amount":1000}' });
    refused({ body: `${body} ` });
    refused({ headers: { 'webhook-id': 'msg_4' } });
    refused({ headers: { 'webhook-timestamp': String(T + 1) } });
    refused({ secret: newSecret() });
    refused({ headers: { 'webhook-signature': headers['webhook-signature']!.slice(0, -4) } });
    refused({ headers: { 'webhook-signature': `v2,${headers['webhook-signature']!.slice(3)}` } });
    // The unchanged message still passes: the refusals above are the changes'.
    assert.doesNotThrow(() => verifyWebhook({ secret, body, headers, now: at(T) }));
  });

  test('key rotation: a message signed with the old and the new secret verifies under either, and under a list of secrets', () => {
    const [previous, next, unrelated] = [newSecret(), newSecret(), newSecret()];
    const body = '{"rotating":true}';
    const old = signedByReference(previous, 'msg_5', T, body);
    const fresh = signedByReference(next, 'msg_5', T, body);
    const headers = { ...old, 'webhook-signature': `${old['webhook-signature']} ${fresh['webhook-signature']}` };
    for (const secret of [previous, next, [unrelated, next], [previous, unrelated]]) {
      assert.deepEqual(verifyWebhook({ secret, body, headers, now: at(T) }).id, 'msg_5');
    }
    assert.throws(() => verifyWebhook({ secret: [unrelated], body, headers, now: at(T) }), refusedFor('no-matching-signature'));
    // Ours signs with both too, and the reference accepts it with either.
    const now = String(Math.floor(Date.now() / 1000));
    const both = signWebhook({ secret: [previous, next], id: 'msg_6', timestamp: Number(now), body });
    assert.equal(both.split(' ').length, 2);
    for (const secret of [previous, next]) {
      assert.doesNotThrow(() =>
        new Webhook(secret).verify(body, { 'webhook-id': 'msg_6', 'webhook-timestamp': now, 'webhook-signature': both }),
      );
    }
  });

  test('signatures of other schemes beside a v1 one are skipped, not a reason to refuse', () => {
    const secret = newSecret();
    const headers = signedByReference(secret, 'msg_7', T, 'x');
    const mixed = {
      ...headers,
      'webhook-signature': `v1a,${randomBytes(64).toString('base64')} ${headers['webhook-signature']} v1,bm9wZQ==`,
    };
    assert.equal(verifyWebhook({ secret, body: 'x', headers: mixed, now: at(T) }).id, 'msg_7');
  });

  test('the timestamp must be within the tolerance of now, either way (five minutes unless told)', () => {
    const secret = newSecret();
    const headers = signedByReference(secret, 'msg_8', T, 'x');
    const verify = (nowSeconds: number, toleranceSeconds?: number) => () =>
      verifyWebhook({ secret, body: 'x', headers, now: at(nowSeconds), toleranceSeconds });
    assert.equal(DEFAULT_TOLERANCE_SECONDS, 300);
    assert.doesNotThrow(verify(T + 300));
    assert.doesNotThrow(verify(T - 300));
    assert.throws(verify(T + 301), refusedFor('timestamp-too-old'));
    assert.throws(verify(T - 301), refusedFor('timestamp-too-new'));
    assert.doesNotThrow(verify(T + 3600, 3600));
    assert.throws(verify(T + 11, 10), refusedFor('timestamp-too-old'));
    // The default clock is the system's: a message signed now passes, one signed an hour ago does not.
    const now = Math.floor(Date.now() / 1000);
    assert.doesNotThrow(() => verifyWebhook({ secret, body: 'x', headers: signedByReference(secret, 'm', now, 'x') }));
    assert.throws(
      () => verifyWebhook({ secret, body: 'x', headers: signedByReference(secret, 'm', now - 3600, 'x') }),
      refusedFor('timestamp-too-old'),
    );
  });

  test('missing headers, a timestamp that is not Unix seconds and a malformed secret are refused, each with its reason', () => {
    const secret = newSecret();
    const headers = signedByReference(secret, 'msg_9', T, 'x');
    const verify =
      (given: Record<string, string | undefined>, key: string | Uint8Array = secret) =>
      () =>
        verifyWebhook({ secret: key, body: 'x', headers: given, now: at(T) });
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      assert.throws(verify({ ...headers, [name]: undefined }), refusedFor('missing-header'), name);
      assert.throws(verify({ ...headers, [name]: '' }), refusedFor('missing-header'), name);
    }
    for (const timestamp of ['1767225600.5', '-1767225600', 'soon', '1e9']) {
      assert.throws(verify({ ...headers, 'webhook-timestamp': timestamp }), refusedFor('invalid-timestamp'), timestamp);
    }
    for (const bad of ['whsec_', 'whsec_not base64!', '', new Uint8Array()]) {
      assert.throws(verify(headers, bad), refusedFor('invalid-secret'), String(bad));
    }
    assert.throws(() => verifyWebhook({ secret: [], body: 'x', headers, now: at(T) }), refusedFor('invalid-secret'));
  });

  test('a secret given as its base64 alone or as raw bytes is the same key as whsec_<base64>', () => {
    const bytes = randomBytes(32);
    const secret = `whsec_${bytes.toString('base64')}`;
    const headers = signedByReference(secret, 'msg_10', T, 'x');
    for (const key of [bytes.toString('base64'), new Uint8Array(bytes)]) {
      assert.equal(verifyWebhook({ secret: key, body: 'x', headers, now: at(T) }).id, 'msg_10');
    }
  });

  test('headers as fetch Headers, in any case, and repeated as node gives them, are read alike', () => {
    const secret = newSecret();
    const headers = signedByReference(secret, 'msg_11', T, 'x');
    const [first, second] = [headers['webhook-signature']!, signedByReference(newSecret(), 'msg_11', T, 'x')['webhook-signature']!];
    const forms: Array<Parameters<typeof verifyWebhook>[0]['headers']> = [
      new Headers(headers),
      Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toUpperCase(), value])),
      { ...headers, 'webhook-signature': [second, first] },
      // node joins a repeated header it does not know with ", ".
      { ...headers, 'webhook-signature': `${second}, ${first}` },
    ];
    for (const form of forms) assert.equal(verifyWebhook({ secret, body: 'x', headers: form, now: at(T) }).id, 'msg_11');
    assert.throws(
      () => verifyWebhook({ secret, body: 'x', headers: { ...headers, 'webhook-id': ['msg_11', 'msg_12'] }, now: at(T) }),
      refusedFor('missing-header'),
    );
  });

  test('a receiver on a real HTTP server accepts requests the reference signed, by the raw body, and refuses a tampered one', async () => {
    const secret = newSecret();
    const verdicts: string[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        try {
          const { id } = verifyWebhook({ secret, body: Buffer.concat(chunks), headers: req.headers satisfies IncomingHttpHeaders });
          verdicts.push(`ok ${id}`);
          res.writeHead(204).end();
        } catch (error) {
          verdicts.push((error as WebhookVerificationError).reason);
          res.writeHead(401).end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      const body = JSON.stringify({ event: 'task.done', note: 'ünïcödé' });
      const headers = signedByReference(secret, 'msg_13', Math.floor(Date.now() / 1000), body);
      const sent = await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body });
      const tampered = await fetch(url, { method: 'POST', headers, body: body.replace('done', 'lost') });
      assert.deepEqual([sent.status, tampered.status], [204, 401]);
      assert.deepEqual(verdicts, ['ok msg_13', 'no-matching-signature']);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
