import assert from 'node:assert/strict';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { type OpenedRequest, decodeRequest, encodeRequest } from '../../src/core/request-codec.js';
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

/** What `open` gives back for REQUEST: the body as the bytes to send. */
const OPENED: OpenedRequest = {
  url: REQUEST.url,
  method: REQUEST.method,
  params: REQUEST.params!,
  headers: REQUEST.headers!,
  body: Buffer.from(BODY, 'base64'),
};

/**
 * A record sealed with AES-256-GCM, as stores hold those sealed before XChaCha20-Poly1305, laid
 * out the way the module did around any plaintext: format 1 (a JSON request), 2 (a binary
 * request) or 3 (other records). To test that such records still open and what `open` checks in them.
 */
function sealGcm(key: Buffer, format: number, plaintext: Buffer | string, aad: string): Buffer {
  const keyId = createHash('sha256').update(key).digest().subarray(0, 4);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext), cipher.final()]);
  return Buffer.concat([Buffer.of(format), keyId, iv, cipher.getAuthTag(), body]);
}

const sealJson = (key: Buffer, plaintext: string, taskId: string): Buffer => sealGcm(key, 1, plaintext, taskId);

function flipByte(sealed: Buffer, index: number): Buffer {
  const raw = Buffer.from(sealed);
  raw[index] = raw[index]! ^ 0x01;
  return raw;
}

describe('seal and open', () => {
  const cipher = createRequestCipher(KEY);

  test('round trip returns the request as given, its body as the bytes to send', () => {
    assert.deepEqual(cipher.open(cipher.seal(REQUEST, TASK_ID), TASK_ID), OPENED);
  });

  test('round trip of a minimal request, of unicode values, and of empty maps and a body of zero bytes', () => {
    const minimal: HttpRequestSpec = { url: 'http://a.example/', method: 'DELETE' };
    assert.deepEqual(cipher.open(cipher.seal(minimal, TASK_ID), TASK_ID), minimal);
    const unicode: HttpRequestSpec = { url: 'https://a.example/ü', method: 'PUT', headers: { 'X-Name': 'Zoë 🚀' } };
    assert.deepEqual(cipher.open(cipher.seal(unicode, TASK_ID), TASK_ID), unicode);
    const binary = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x0a, 0x0d]);
    const withBody: HttpRequestSpec = {
      url: 'https://a.example/',
      method: 'POST',
      params: {},
      headers: {},
      data: binary.toString('base64'),
    };
    assert.deepEqual(cipher.open(cipher.seal(withBody, TASK_ID), TASK_ID), { url: withBody.url, method: 'POST', body: binary });
  });

  test('long values round trip (lengths of several bytes)', () => {
    const long: HttpRequestSpec = {
      url: `https://a.example/${'p'.repeat(20_000)}`,
      method: 'POST',
      headers: { 'X-Long': 'v'.repeat(300) },
      data: randomBytes(70_000).toString('base64'),
    };
    const opened = cipher.open(cipher.seal(long, TASK_ID), TASK_ID);
    assert.equal(opened.url, long.url);
    assert.deepEqual(opened.headers, long.headers);
    assert.deepEqual(opened.body, Buffer.from(long.data!, 'base64'));
  });

  test('the sealed record is bytes: format 4, then the key id, nonce, ciphertext and tag', () => {
    const sealed = cipher.seal(REQUEST, TASK_ID);
    assert.ok(Buffer.isBuffer(sealed));
    assert.equal(sealed[0], 4);
    assert.deepEqual(sealed.subarray(1, 5), createHash('sha256').update(KEY).digest().subarray(0, 4));
    assert.equal(sealed.length, 1 + 4 + 24 + encodeRequest(REQUEST).length + 16);
  });

  test('records sealed with AES-256-GCM before still open: a binary request (format 2), other records (format 3)', () => {
    const binary = sealGcm(KEY, 2, encodeRequest(REQUEST), TASK_ID);
    assert.deepEqual(cipher.open(binary, TASK_ID), OPENED);
    assert.deepEqual(cipher.openTarget(binary, TASK_ID), { method: 'POST', url: 'https://target.example/hook' });
    assert.throws(() => cipher.open(binary, OTHER_ID));
    assert.throws(() => cipher.openBytes(binary, TASK_ID), /unknown format/);
    const bytes = sealGcm(KEY, 3, Buffer.from('an answer'), 'attempt:t:1');
    assert.deepEqual(cipher.openBytes(bytes, 'attempt:t:1'), Buffer.from('an answer'));
    assert.throws(() => cipher.openBytes(bytes, 'attempt:t:2'));
    assert.throws(() => cipher.open(bytes, 'attempt:t:1'), /unknown format/);
  });

  test('the body is stored as its bytes: the record is smaller than the body in base64', () => {
    const sealed = cipher.seal(REQUEST, TASK_ID);
    const json = sealJson(KEY, JSON.stringify(REQUEST), TASK_ID);
    assert.ok(sealed.length < json.length, `${sealed.length} bytes against ${json.length} for JSON`);
  });

  test('sealing twice gives different records (a fresh nonce each time)', () => {
    const a = cipher.seal(REQUEST, TASK_ID);
    const b = cipher.seal(REQUEST, TASK_ID);
    assert.notDeepEqual(a, b);
    assert.notDeepEqual(a.subarray(5, 29), b.subarray(5, 29));
  });

  test('the sealed record holds no header value, param, body or URL in the clear', () => {
    const sealed = cipher.seal(REQUEST, TASK_ID);
    const secrets = [SECRET_HEADER, 'TopSecretValue', 'param-secret-123', BODY, '4111111111111111', 'target.example', 'Authorization'];
    for (const secret of secrets) {
      assert.ok(!sealed.includes(Buffer.from(secret, 'utf8')), `sealed bytes contain ${secret}`);
      for (const encoding of ['base64', 'base64url', 'hex'] as const) {
        assert.ok(
          !sealed.includes(Buffer.from(Buffer.from(secret).toString(encoding).slice(0, 16))),
          `sealed bytes contain ${secret} as ${encoding}`,
        );
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
    // format, key id, nonce, first byte of the ciphertext, first and last byte of the tag
    for (const index of [0, 1, 4, 5, 28, 29, sealed.length - 16, sealed.length - 1]) {
      assert.throws(() => cipher.open(flipByte(sealed, index), TASK_ID), `flipped byte ${index}`);
    }
  });

  test('a truncated, extended or empty record fails', () => {
    const sealed = cipher.seal(REQUEST, TASK_ID);
    assert.throws(() => cipher.open(sealed.subarray(0, sealed.length - 1), TASK_ID));
    assert.throws(() => cipher.open(sealed.subarray(0, 20), TASK_ID), /unknown format/);
    assert.throws(() => cipher.open(Buffer.concat([sealed, Buffer.of(0)]), TASK_ID));
    assert.throws(() => cipher.open(Buffer.alloc(0), TASK_ID), /unknown format/);
    assert.throws(() => cipher.open(Buffer.from('not sealed at all, and long enough to look like it'), TASK_ID));
  });

  test('an unknown format fails as such; a record relabelled as another format does not open', () => {
    const raw = Buffer.from(cipher.seal(REQUEST, TASK_ID));
    for (const format of [0, 6, 0x41]) {
      raw[0] = format;
      assert.throws(() => cipher.open(raw, TASK_ID), /unknown format/, `format ${format}`);
    }
    for (const format of [1, 2, 3, 5]) {
      raw[0] = format;
      assert.throws(() => cipher.open(raw, TASK_ID), `format ${format}`);
      assert.throws(() => cipher.openBytes(raw, TASK_ID), `format ${format}, as bytes`);
    }
  });

  test('a key that is not 32 bytes is refused', () => {
    for (const length of [0, 16, 31, 33, 64]) {
      assert.throws(() => createRequestCipher(Buffer.alloc(length)), /32 bytes/, `${length} bytes`);
    }
  });
});

describe('openTarget: the method and the URL without its query, for a listing', () => {
  const cipher = createRequestCipher(KEY);
  const SHOWN = { method: 'POST', url: 'https://target.example/hook' };

  test('shows the method and the URL without query or fragment; the request keeps them', () => {
    const sealed = cipher.seal({ ...REQUEST, url: 'https://target.example/hook?sig=secret#frag' }, TASK_ID);
    assert.deepEqual(cipher.openTarget(sealed, TASK_ID), SHOWN);
    assert.equal(cipher.open(sealed, TASK_ID).url, 'https://target.example/hook?sig=secret#frag');
  });

  test('a record sealed as JSON (format 1) shows the same', () => {
    assert.deepEqual(cipher.openTarget(sealJson(KEY, JSON.stringify(REQUEST), TASK_ID), TASK_ID), SHOWN);
  });

  test('a URL with a port shows it; one that does not parse shows as empty', () => {
    const port = cipher.seal({ url: 'http://127.0.0.1:8080/a/b?x=1', method: 'DELETE' }, TASK_ID);
    assert.deepEqual(cipher.openTarget(port, TASK_ID), { method: 'DELETE', url: 'http://127.0.0.1:8080/a/b' });
    assert.deepEqual(cipher.openTarget(cipher.seal({ url: 'not a url', method: 'GET' }, TASK_ID), TASK_ID), { method: 'GET', url: '' });
  });

  test('it opens only what open opens: bound to the task id and the key, tampering fails', () => {
    const sealed = cipher.seal(REQUEST, TASK_ID);
    assert.throws(() => cipher.openTarget(sealed, OTHER_ID));
    assert.throws(() => createRequestCipher(Buffer.alloc(32, 7)).openTarget(sealed, TASK_ID), /another key/);
    for (const index of [0, 5, 17, 33, sealed.length - 1]) {
      assert.throws(() => cipher.openTarget(flipByte(sealed, index), TASK_ID), `flipped byte ${index}`);
    }
    assert.throws(() => cipher.openTarget(cipher.sealBytes(Buffer.from('x'), TASK_ID), TASK_ID), /unknown format/);
  });

  test("a target kept from an earlier listing is that record's: a record sealed anew for the task opens anew", () => {
    const kept = createRequestCipher(KEY);
    const first = kept.seal({ url: 'https://one.example/a?k=1', method: 'POST' }, TASK_ID);
    assert.deepEqual(kept.openTarget(first, TASK_ID), { method: 'POST', url: 'https://one.example/a' });
    const again = kept.seal({ url: 'https://two.example/b', method: 'PUT' }, TASK_ID);
    assert.deepEqual(kept.openTarget(again, TASK_ID), { method: 'PUT', url: 'https://two.example/b' });
    assert.deepEqual(kept.openTarget(first, TASK_ID), { method: 'POST', url: 'https://one.example/a' });
  });

  test('a kept target is still bound to its task id, and answers are not shared objects', () => {
    const kept = createRequestCipher(KEY);
    const sealed = kept.seal(REQUEST, TASK_ID);
    const shown = kept.openTarget(sealed, TASK_ID);
    shown.url = 'changed by a caller';
    assert.deepEqual(kept.openTarget(sealed, TASK_ID), SHOWN);
    assert.throws(() => kept.openTarget(sealed, OTHER_ID));
  });

  test('a record changed after its target was kept answers what the record held when it opened, never the change', () => {
    const kept = createRequestCipher(KEY);
    const sealed = kept.seal(REQUEST, TASK_ID);
    assert.deepEqual(kept.openTarget(sealed, TASK_ID), SHOWN);
    // Its key id, nonce and tag are unchanged, so the kept target answers; the dispatcher's open still refuses the record.
    const tampered = flipByte(sealed, 29);
    assert.deepEqual(kept.openTarget(tampered, TASK_ID), SHOWN);
    assert.throws(() => kept.open(tampered, TASK_ID));
  });
});

describe('records sealed before the binary format (format 1, JSON) still open', () => {
  const cipher = createRequestCipher(KEY);

  test('the same request, its base64 data as the bytes to send', () => {
    assert.deepEqual(cipher.open(sealJson(KEY, JSON.stringify(REQUEST), TASK_ID), TASK_ID), OPENED);
  });

  test('a DELETE keeps no body, as before', () => {
    const plain = JSON.stringify({ url: 'https://x.example/', method: 'DELETE', data: 'QQ==' });
    assert.deepEqual(cipher.open(sealJson(KEY, plain, TASK_ID), TASK_ID), { url: 'https://x.example/', method: 'DELETE' });
  });

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
      assert.throws(() => cipher.open(sealJson(KEY, plaintext, TASK_ID), TASK_ID), error, label);
    });
  }
});

describe('the binary plaintext (request-codec) refuses what it did not write', () => {
  const valid = encodeRequest(REQUEST);

  test('it round-trips', () => {
    assert.deepEqual(decodeRequest(valid), OPENED);
  });

  test('an unknown method, a length past the end, a cut-short map', () => {
    assert.throws(() => decodeRequest(Buffer.concat([Buffer.of(9), valid.subarray(1)])), /unknown method/);
    assert.throws(() => decodeRequest(Buffer.of(0, 50, 0x61)), /cut short/);
    assert.throws(() => decodeRequest(Buffer.of(0, 1, 0x61, 2, 1, 0x61)), /cut short/);
    assert.throws(() => decodeRequest(Buffer.of(0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), /bad length|cut short/);
  });

  test('a name that would set a prototype is refused', () => {
    const proto = Buffer.from('__proto__');
    assert.throws(() => decodeRequest(Buffer.concat([Buffer.of(0, 0, 1, proto.length), proto, Buffer.of(1, 0x61, 0)])), /forbidden name/);
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
    assert.deepEqual(cipher.open(cipher.seal(REQUEST, TASK_ID), TASK_ID), OPENED);
  });
});

describe('sealBytes and openBytes (other records, such as the inbox)', () => {
  const cipher = createRequestCipher(KEY);

  test('round-trips any bytes, bound to their aad; never opens as a request, nor a request as bytes', () => {
    const plain = Buffer.from([0, 1, 2, 0xff, 0x7b]);
    const sealed = cipher.sealBytes(plain, 'inbox:p:1');
    assert.deepEqual(cipher.openBytes(sealed, 'inbox:p:1'), plain);
    assert.equal(sealed.indexOf(plain), -1);
    assert.throws(() => cipher.openBytes(sealed, 'inbox:p:2'));
    assert.throws(() => cipher.open(sealed, 'inbox:p:1'), /unknown format/);
    const request = cipher.seal({ url: 'https://example.com/', method: 'POST' }, 'task');
    assert.throws(() => cipher.openBytes(request, 'task'), /unknown format/);
    assert.throws(() => createRequestCipher(Buffer.alloc(32, 9)).openBytes(sealed, 'inbox:p:1'), /another key/);
  });
});
