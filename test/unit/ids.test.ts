import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ID_LENGTH, ID_PATTERN, isId, newId } from '../../src/core/ids.js';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function decodeTime(id: string): number {
  let t = 0;
  for (const ch of id.slice(0, 10)) {
    const digit = ALPHABET.indexOf(ch);
    assert.ok(digit >= 0, `${ch} is Crockford base32`);
    t = t * 32 + digit;
  }
  return t;
}

describe('newId', () => {
  test('26 Crockford base32 characters', () => {
    const id = newId(Date.UTC(2026, 0, 1));
    assert.equal(id.length, ID_LENGTH);
    assert.equal(ID_LENGTH, 26);
    assert.match(id, ID_PATTERN);
    assert.equal(isId(id), true);
  });

  test('the first 10 characters are the time in milliseconds', () => {
    const cases: [number, string][] = [
      [0, '0000000000'],
      [1, '0000000001'],
      [31, '000000000Z'],
      [32, '0000000010'],
      [1_024, '0000000100'],
      [32 ** 10 - 1, 'ZZZZZZZZZZ'],
    ];
    for (const [now, prefix] of cases) {
      assert.equal(newId(now).slice(0, 10), prefix, `time ${now}`);
    }
    for (const now of [Date.UTC(2026, 0, 1), Date.UTC(2099, 11, 31, 23, 59, 59, 999), 1_469_918_176_385]) {
      assert.equal(decodeTime(newId(now)), now, `time ${now}`);
    }
  });

  test('fractional and negative times are floored and clamped', () => {
    assert.equal(newId(1.9).slice(0, 10), '0000000001');
    assert.equal(newId(-5).slice(0, 10), '0000000000');
  });

  test('ids sort by creation time', () => {
    const times = [0, 1, 31, 32, 1_000, Date.UTC(2025, 5, 1), Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 1) + 1];
    const ids = times.map((t) => newId(t));
    assert.deepEqual([...ids].sort(), ids);
  });

  test('the random part is 16 characters that vary in every position', () => {
    const now = Date.UTC(2026, 0, 1);
    const ids = Array.from({ length: 600 }, () => newId(now));
    assert.equal(new Set(ids).size, ids.length, 'no repeats');
    for (let position = 10; position < 26; position++) {
      const seen = new Set(ids.map((id) => id[position]));
      assert.ok(seen.size >= 20, `position ${position} takes ${seen.size} values`);
    }
  });
});

describe('isId', () => {
  test('accepts valid ids', () => {
    for (const id of ['00000000000000000000000000', 'ZZZZZZZZZZZZZZZZZZZZZZZZZZ', '01KDXQ0000ABCDEFGHJKMNPQRS', newId(0)]) {
      assert.equal(isId(id), true, id);
    }
  });

  test('refuses anything else', () => {
    const cases: unknown[] = [
      '',
      '0000000000000000000000000',
      '000000000000000000000000000',
      '01kdxq0000abcdefghjkmnpqrs', // lower case
      '0000000000000000000000000I',
      '0000000000000000000000000L',
      '0000000000000000000000000O',
      '0000000000000000000000000U',
      '0000000000000000000000000-',
      ' 0000000000000000000000000',
      '0000000000000000000000000\n',
      null,
      undefined,
      26,
      {},
      ['00000000000000000000000000'],
    ];
    for (const value of cases) assert.equal(isId(value), false, JSON.stringify(value));
  });
});
