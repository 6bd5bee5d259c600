import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { HmacKey, signatureOf } from '../../src/core/signing.js';

// Node's Hmac is the reference the laid-out one-shot HMAC must agree with, byte for byte.
const reference = (key: Uint8Array, text: string, body: Uint8Array): string =>
  createHmac('sha256', key).update(text, 'utf8').update(body).digest('base64');

describe('HmacKey', () => {
  test('agrees with Node’s Hmac for keys shorter than, as long as and longer than a block', () => {
    for (const keyBytes of [1, 32, 63, 64, 65, 200]) {
      const key = randomBytes(keyBytes);
      const body = randomBytes(700);
      assert.equal(
        new HmacKey(key).base64('msg_a_0.1765100000.', body),
        reference(key, 'msg_a_0.1765100000.', body),
        `${keyBytes}-byte key`,
      );
    }
  });

  test('agrees for no body, small ones, and bodies past the buffer it keeps (64 KiB)', () => {
    const key = randomBytes(32);
    const hmac = new HmacKey(key);
    for (const bodyBytes of [0, 1, 5_000, 64 * 1024, 200_000, 10]) {
      const body = randomBytes(bodyBytes);
      assert.equal(hmac.base64('id.1.', body), reference(key, 'id.1.', body), `${bodyBytes}-byte body`);
    }
    assert.equal(hmac.base64('id.1.', undefined), reference(key, 'id.1.', Buffer.alloc(0)));
  });

  test('takes text beyond ASCII as UTF-8', () => {
    const key = randomBytes(32);
    assert.equal(new HmacKey(key).base64('é✓𝄞.', Buffer.from('x')), reference(key, 'é✓𝄞.', Buffer.from('x')));
  });

  test('two keys used in turn do not mix (each keeps its own pads)', () => {
    const [k1, k2] = [randomBytes(32), randomBytes(32)];
    const [h1, h2] = [new HmacKey(k1), new HmacKey(k2)];
    const body = Buffer.from('{"a":1}');
    for (let i = 0; i < 3; i++) {
      assert.equal(signatureOf(h1, 'msg_x_0', '17', body), `v1,${reference(k1, 'msg_x_0.17.', body)}`);
      assert.equal(signatureOf(h2, 'msg_x_0', '17', body), `v1,${reference(k2, 'msg_x_0.17.', body)}`);
    }
  });
});
