import assert from 'node:assert/strict';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { createRequestCipher, deriveKey } from '../../src/core/sealed-request.js';
import type { HttpRequestSpec } from '../../src/core/task.js';

const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const TASK_ID = '01KDXQ0000ABCDEFGHJKMNPQRS';
const OTHER_ID = '01KDXQ0000ABCDEFGHJKMNPQRT';

const SECRET_HEADER = 'Bearer sk_live_TopSecretValue_9f8e7d';
const BODY = Buffer.from('{"card":"4111111111111111","cvv":"123"}').toString('base64');
const REQUEST: HttpRequestSpec = {
  url: 'https://target.example/hook',
  method: 'POST',
  data: BODY,
  params: { key: 'value', api_key: 'param-secret-123' },
  headers: { Authorization: SECRET_HEADER, 'Content-Type': 'application/json' },
};

/** Builds a sealed blob the way the module lays it out, around any plaintext: to test what `open` checks. */
function sealRaw(key: Buffer, plaintext: string, taskId: string): string {
  const keyId = createHash('sha256').update(key).digest().subarray(0, 4);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(taskId, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.of(1), keyId, iv, cipher.getAuthTag(), body]).toString('base64url');
}

function flipByte(sealed: string, index: number): string {
  const raw = Buffer.from(sealed, 'base64url');
  raw[index] = raw[index]! ^ 0x01;
  return raw.toString('base64url');
}

describe('seal and open', () => {
  const cipher = createRequestCipher(KEY);

  test('round trip returns the request as given', () => {
    assert.deepEqual(cipher.open(cipher.seal(REQUEST, TASK_ID), TASK_ID), REQUEST);
  });

  test('round trip of a minimal request, and of unicode values', () => {
    const minimal: HttpRequestSpec = { url: 'http://a.example/', method: 'DELETE' };
    assert.deepEqual(cipher.open(cipher.seal(minimal, TASK_ID), TASK_ID), minimal);
    const unicode: HttpRequestSpec = { url: 'https://a.example/ü', method: 'PUT', headers: { 'X-Name': 'Zoë 🚀' } };
    assert.deepEqual(cipher.open(cipher.seal(unicode, TASK_ID), TASK_ID), unicode);
  });

  test('the sealed text is base64url', () => {
    assert.match(cipher.seal(REQUEST, TASK_ID), /^[A-Za-z0-9_-]+$/);
  });

  test('sealing twice gives different texts (a fresh IV each time)', () => {
    const a = cipher.seal(REQUEST, TASK_ID);
    const b = cipher.seal(REQUEST, TASK_ID);
    assert.notEqual(a, b);
    assert.notDeepEqual(Buffer.from(a, 'base64url').subarray(5, 17), Buffer.from(b, 'base64url').subarray(5, 17));
  });

  test('the sealed text holds no header value, param, body or URL in the clear', () => {
    const sealed = cipher.seal(REQUEST, TASK_ID);
    const raw = Buffer.from(sealed, 'base64url');
    const secrets = [SECRET_HEADER, 'TopSecretValue', 'param-secret-123', BODY, '4111111111111111', 'target.example', 'Authorization'];
    for (const secret of secrets) {
      assert.ok(!sealed.includes(secret), `sealed text contains ${secret}`);
      assert.ok(!raw.includes(Buffer.from(secret, 'utf8')), `sealed bytes contain ${secret}`);
      for (const encoding of ['base64', 'base64url', 'hex'] as const) {
        assert.ok(!sealed.includes(Buffer.from(secret).toString(encoding).slice(0, 16)), `sealed text contains ${secret} as ${encoding}`);
      }
    }
  });

  test('the task id is bound: opening with another id fails', () => {
    const sealed = cipher.seal(REQUEST, TASK_ID);
    assert.throws(() => cipher.open(sealed, OTHER_ID));
    assert.throws(() => cipher.open(sealed, ''));
    assert.throws(() => cipher.open(sealed, TASK_ID.toLowerCase()));
  });

  test('another key fails, and says so', () => {
    const sealed = cipher.seal(REQUEST, TASK_ID);
    const other = createRequestCipher(Buffer.alloc(32, 7));
    assert.throws(() => other.open(sealed, TASK_ID), /another key/);
  });

  test('tampering with any part fails', () => {
    const sealed = cipher.seal(REQUEST, TASK_ID);
    const length = Buffer.from(sealed, 'base64url').length;
    // version, key id, iv, tag, first and last byte of the ciphertext
    for (const index of [0, 1, 4, 5, 16, 17, 32, 33, length - 1]) {
      assert.throws(() => cipher.open(flipByte(sealed, index), TASK_ID), `flipped byte ${index}`);
    }
  });

  test('a truncated, extended or empty text fails', () => {
    const sealed = cipher.seal(REQUEST, TASK_ID);
    const raw = Buffer.from(sealed, 'base64url');
    assert.throws(() => cipher.open(raw.subarray(0, raw.length - 1).toString('base64url'), TASK_ID));
    assert.throws(() => cipher.open(raw.subarray(0, 20).toString('base64url'), TASK_ID), /unknown format/);
    assert.throws(() => cipher.open(Buffer.concat([raw, Buffer.of(0)]).toString('base64url'), TASK_ID));
    assert.throws(() => cipher.open('', TASK_ID), /unknown format/);
    assert.throws(() => cipher.open('not sealed at all', TASK_ID));
  });

  test('an unknown version fails as an unknown format', () => {
    const raw = Buffer.from(cipher.seal(REQUEST, TASK_ID), 'base64url');
    raw[0] = 2;
    assert.throws(() => cipher.open(raw.toString('base64url'), TASK_ID), /unknown format/);
  });

  test('a key that is not 32 bytes is refused', () => {
    for (const length of [0, 16, 31, 33, 64]) {
      assert.throws(() => createRequestCipher(Buffer.alloc(length)), /32 bytes/, `${length} bytes`);
    }
  });
});

describe('open checks the shape of what it decrypts', () => {
  const cipher = createRequestCipher(KEY);
  const cases: [string, string, RegExp][] = [
    ['not JSON', 'not json', /JSON/],
    ['JSON null', 'null', /not an object/],
    ['a JSON string', '"https://x.example/"', /not an object/],
    ['no url', '{"method":"POST"}', /url or method/],
    ['a numeric url', '{"url":1,"method":"POST"}', /url or method/],
    ['no method', '{"url":"https://x.example/"}', /url or method/],
    ['params with a number', '{"url":"https://x.example/","method":"POST","params":{"a":1}}', /params/],
    ['params not an object', '{"url":"https://x.example/","method":"POST","params":null}', /params/],
    ['headers with an array', '{"url":"https://x.example/","method":"POST","headers":{"a":["b"]}}', /headers/],
    ['numeric data', '{"url":"https://x.example/","method":"POST","data":42}', /data/],
  ];
  for (const [label, plaintext, error] of cases) {
    test(`refuses ${label}`, () => {
      assert.throws(() => cipher.open(sealRaw(KEY, plaintext, TASK_ID), TASK_ID), error, label);
    });
  }

  test('accepts a well-formed record sealed the same way', () => {
    const plain = '{"url":"https://x.example/","method":"PATCH","headers":{"a":"b"},"params":{"c":"d"},"data":"QQ=="}';
    assert.deepEqual(cipher.open(sealRaw(KEY, plain, TASK_ID), TASK_ID), JSON.parse(plain));
  });
});

describe('deriveKey', () => {
  test('64 hex characters are the key itself, in either case', () => {
    const hex = KEY.toString('hex');
    assert.deepEqual(deriveKey(hex), KEY);
    assert.deepEqual(deriveKey(hex.toUpperCase()), KEY);
  });

  test('base64 and base64url of 32 bytes are the key itself', () => {
    const key = Buffer.from('fbff' + 'e0'.repeat(28) + 'ffbf', 'hex'); // holds + and / in base64
    const b64 = key.toString('base64');
    const b64url = key.toString('base64url');
    assert.equal(b64.length, 44);
    assert.equal(b64url.length, 43);
    assert.match(b64, /[+/]/);
    assert.deepEqual(deriveKey(b64), key);
    assert.deepEqual(deriveKey(b64.replace(/=$/, '')), key);
    assert.deepEqual(deriveKey(b64url), key);
  });

  test('a passphrase is stretched to 32 bytes, deterministically', () => {
    const pass = 'correct horse battery staple, 32+ chars';
    const key = deriveKey(pass);
    assert.equal(key.length, 32);
    assert.deepEqual(deriveKey(pass), key);
    assert.notDeepEqual(deriveKey(pass + '!'), key);
    assert.ok(!key.equals(Buffer.from(pass, 'utf8').subarray(0, 32)));
  });

  test('the passphrase derivation does not change (stored requests would no longer open)', () => {
    assert.equal(
      deriveKey('correct horse battery staple, 32+ chars').toString('hex'),
      '2f0139cf84ef1b405b080d0614ded3fc4cab82dbacfef7f4a2e3631ccf09389d',
    );
  });

  test('strings that only resemble the key forms are stretched, not decoded', () => {
    const hex = KEY.toString('hex');
    const hex65 = deriveKey(`${hex}a`);
    assert.equal(hex65.length, 32);
    assert.notDeepEqual(hex65, KEY, '65 hex characters are not the key');
    const hex63 = deriveKey(hex.slice(0, 63));
    assert.equal(hex63.length, 32);
    assert.notDeepEqual(hex63.subarray(0, 31), KEY.subarray(0, 31), '63 hex characters are not decoded');
    const bytes31 = randomBytes(31);
    const b64of31 = deriveKey(bytes31.toString('base64'));
    assert.equal(b64of31.length, 32);
    assert.notDeepEqual(b64of31.subarray(0, 31), bytes31, 'base64 of 31 bytes is not decoded');
    assert.notDeepEqual(deriveKey('g'.repeat(64)), deriveKey('h'.repeat(64)));
  });

  test('hex and base64 of the same 32 bytes give the same key; a longer text built from it does not', () => {
    const hex = KEY.toString('hex');
    assert.deepEqual(deriveKey(hex), deriveKey(KEY.toString('base64')));
    assert.notDeepEqual(deriveKey(`${hex}-passphrase`), KEY);
  });

  test('a derived key seals and opens', () => {
    const cipher = createRequestCipher(deriveKey('a passphrase that is long enough to use'));
    assert.deepEqual(cipher.open(cipher.seal(REQUEST, TASK_ID), TASK_ID), REQUEST);
  });
});
