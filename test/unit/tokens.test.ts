import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TOKEN_PATTERN, hashToken, newToken, tokenMatches } from '../../src/core/tokens.js';

describe('tokens', () => {
  test('a new token is kt_ and 43 base64url characters (256 bits)', () => {
    const token = newToken();
    assert.match(token, TOKEN_PATTERN);
    assert.ok(token.startsWith('kt_'));
    assert.equal(token.length, 46);
    assert.equal(Buffer.from(token.slice(3), 'base64url').length, 32);
  });

  test('tokens do not repeat', () => {
    const tokens = new Set(Array.from({ length: 500 }, () => newToken()));
    assert.equal(tokens.size, 500);
  });

  test('hashToken is SHA-256 of the UTF-8 text', () => {
    assert.equal(hashToken('abc').toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(hashToken('').toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(hashToken('abc').length, 32);
  });

  test('the hash does not hold the token', () => {
    const token = newToken();
    const hash = hashToken(token);
    assert.ok(!hash.toString('utf8').includes(token.slice(3, 20)));
    assert.ok(!hash.toString('base64url').includes(token.slice(3, 20)));
  });

  test('tokenMatches accepts the token and nothing else', () => {
    const token = newToken();
    const stored = hashToken(token);
    assert.equal(tokenMatches(token, stored), true);
    assert.equal(tokenMatches(token, new Uint8Array(stored)), true, 'any Uint8Array');
    assert.equal(tokenMatches(newToken(), stored), false);
    assert.equal(tokenMatches(`${token} `, stored), false);
    assert.equal(tokenMatches(token.slice(0, -1), stored), false);
    assert.equal(tokenMatches(token.toUpperCase(), stored), false);
    assert.equal(tokenMatches('', stored), false);
  });

  test('a stored hash of another length does not match and does not throw', () => {
    const token = newToken();
    const stored = hashToken(token);
    for (const other of [stored.subarray(0, 16), Buffer.alloc(0), Buffer.concat([stored, Buffer.of(0)])]) {
      assert.equal(tokenMatches(token, other), false, `${other.length} bytes`);
    }
  });

  test('TOKEN_PATTERN refuses malformed tokens', () => {
    const good = newToken();
    for (const bad of [
      '',
      'kt_',
      good.slice(3),
      `kt-${good.slice(3)}`,
      `${good}A`,
      good.slice(0, -1),
      `kt_${'a'.repeat(42)}=`,
      `kt_${'a'.repeat(42)}+`,
      `KT_${good.slice(3)}`,
    ]) {
      assert.doesNotMatch(bad, TOKEN_PATTERN, bad);
    }
  });
});
