import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DURATION_HINT, formatDuration, parseDuration } from '../../src/core/durations.js';

function accepted(value: unknown): number {
  const result = parseDuration(value);
  assert.ok(result.ok, `${JSON.stringify(value)} should be accepted, got ${JSON.stringify(result)}`);
  return result.ms;
}

function refused(value: unknown, label = String(value)): string {
  const result = parseDuration(value);
  assert.ok(!result.ok, `${label} should be refused, got ${JSON.stringify(result)}`);
  return result.message;
}

describe('parseDuration: accepted forms', () => {
  const cases: [unknown, number][] = [
    [0, 0],
    [1, 1],
    [1_000, 1_000],
    [600_000, 600_000],
    [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
    ['0', 0],
    ['1', 1],
    ['250', 250],
    ['999999999999999', 999_999_999_999_999],
    ['500ms', 500],
    ['1ms', 1],
    ['10s', 10_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['2d', 172_800_000],
    ['1.5s', 1_500],
    ['0.5s', 500],
    ['0.001s', 1],
    ['2.5m', 150_000],
    ['1.5h', 5_400_000],
    ['0.5d', 43_200_000],
    ['1.0ms', 1],
    ['10.000s', 10_000],
  ];
  for (const [input, ms] of cases) {
    test(`${JSON.stringify(input)} is ${ms} ms`, () => {
      assert.equal(accepted(input), ms, `parseDuration(${JSON.stringify(input)})`);
    });
  }
});

describe('parseDuration: decimal strings that are a whole number of milliseconds', () => {
  // Each of these is exactly a whole number of milliseconds; binary floating point must not make
  // them look fractional (e.g. 1.001 * 1000 === 1000.9999999999999 in IEEE 754).
  const cases: [string, number][] = [
    ['1.001s', 1_001],
    ['2.002s', 2_002],
    ['1.015s', 1_015],
    ['0.27m', 16_200],
    ['1.07m', 64_200],
    ['0.07h', 252_000],
    ['0.57h', 2_052_000],
  ];
  for (const [input, ms] of cases) {
    test(`${input} is ${ms} ms`, () => {
      const result = parseDuration(input);
      assert.deepEqual(result, { ok: true, ms }, `parseDuration(${JSON.stringify(input)})`);
    });
  }
});

describe('parseDuration: refused values', () => {
  const cases: [unknown, string][] = [
    [-1, 'negative integer -1'],
    [-1_000, 'negative integer -1000'],
    ['-1', 'negative string "-1"'],
    ['-5s', 'negative string "-5s"'],
    [1.5, 'fractional number 1.5'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [Number.NEGATIVE_INFINITY, '-Infinity'],
    [Number.MAX_SAFE_INTEGER + 1, 'number beyond the safe integers'],
    [1e300, '1e300'],
    ['NaN', 'string "NaN"'],
    ['Infinity', 'string "Infinity"'],
    ['-Infinity', 'string "-Infinity"'],
    ['1e3', 'exponent notation "1e3"'],
    ['0x10', 'hex "0x10"'],
    ['1.5ms', '"1.5ms" (not whole milliseconds)'],
    ['0.5ms', '"0.5ms" (not whole milliseconds)'],
    ['0.0001s', '"0.0001s" (0.1 ms)'],
    ['', 'empty string'],
    [' ', 'a space'],
    [' 10s', 'leading space'],
    ['10s ', 'trailing space'],
    ['10 s', 'space before the unit'],
    ['\t10s', 'leading tab'],
    ['10s\n', 'trailing newline'],
    ['s', 'unit without amount'],
    ['.5s', 'missing integer part'],
    ['5.s', 'missing fraction digits'],
    ['10sec', 'unknown unit "sec"'],
    ['10w', 'unknown unit "w"'],
    ['10y', 'unknown unit "y"'],
    ['1h30m', 'compound "1h30m"'],
    ['+10s', 'explicit plus sign'],
    ['1,000', 'thousands separator'],
    ['1_000', 'numeric separator'],
    ['9999999999999999', '16-digit string'],
    ['999999999999999d', 'days beyond safe integers'],
    ['104249991375d', 'days far beyond safe integers'],
    [null, 'null'],
    [undefined, 'undefined'],
    [true, 'true'],
    [false, 'false'],
    [{}, 'an object'],
    [{ ms: 10 }, 'an object with ms'],
    [[10], 'an array'],
    [10n, 'a bigint'],
    [Symbol('10s'), 'a symbol'],
    [() => 10, 'a function'],
  ];
  for (const [input, label] of cases) {
    test(`refuses ${label}`, () => {
      refused(input, label);
    });
  }

  test('the message says which forms are accepted', () => {
    assert.equal(refused('ten seconds'), DURATION_HINT);
    assert.match(DURATION_HINT, /milliseconds/);
    for (const form of ['"500ms"', '"10s"', '"5m"', '"1h"', '"2d"']) {
      assert.ok(DURATION_HINT.includes(form), `hint names ${form}`);
    }
  });

  test('a fractional number of milliseconds says it must be whole', () => {
    assert.match(refused('1.5ms'), /whole number of milliseconds/);
  });

  test('the largest day count within safe integers is accepted, one more is not', () => {
    const maxDays = Math.floor(Number.MAX_SAFE_INTEGER / 86_400_000);
    assert.equal(accepted(`${maxDays}d`), maxDays * 86_400_000);
    refused(`${maxDays + 1}d`);
  });
});

describe('formatDuration', () => {
  const cases: [number, string][] = [
    [0, '0ms'],
    [1, '1ms'],
    [999, '999ms'],
    [1_000, '1s'],
    [1_500, '1.5s'],
    [1_250, '1.25s'],
    [1_234, '1.23s'],
    [10_000, '10s'],
    [59_000, '59s'],
    [60_000, '1m'],
    [90_000, '1.5m'],
    [300_000, '5m'],
    [3_600_000, '1h'],
    [5_400_000, '1.5h'],
    [86_400_000, '1d'],
    [172_800_000, '2d'],
    [129_600_000, '1.5d'],
    [365 * 86_400_000, '365d'],
  ];
  for (const [ms, text] of cases) {
    test(`${ms} ms is "${text}"`, () => {
      assert.equal(formatDuration(ms), text, `formatDuration(${ms})`);
    });
  }

  test('round trips through parseDuration for whole units', () => {
    for (const ms of [1, 999, 1_000, 1_500, 60_000, 90_000, 3_600_000, 86_400_000, 172_800_000]) {
      assert.equal(accepted(formatDuration(ms)), ms, `round trip of ${ms}`);
    }
  });

  test('never ends a number with a bare decimal point', () => {
    // 1001 ms is 1.001 s, which rounds to "1.00" at two decimals: the zeros go, and so must the dot.
    const cases = [1_001, 1_004, 59_999, 60_100, 3_599_999, 3_600_001, 86_400_001];
    for (const ms of cases) {
      const text = formatDuration(ms);
      assert.doesNotMatch(text, /\.(ms|s|m|h|d)$/, `formatDuration(${ms}) = "${text}"`);
      assert.ok(parseDuration(text).ok, `formatDuration(${ms}) = "${text}" should be a readable duration`);
    }
  });
});

describe('parseDuration: strings seen before', () => {
  test('a string asked for again answers the same, and an answer cannot be changed by the caller that got it', () => {
    const first = parseDuration('7s');
    assert.deepEqual(parseDuration('7s'), { ok: true, ms: 7_000 });
    assert.throws(() => Object.assign(first, { ms: 1 }), TypeError);
    assert.deepEqual(parseDuration('7s'), { ok: true, ms: 7_000 });
    assert.equal(refused('7x'), DURATION_HINT);
    assert.equal(refused('7x'), DURATION_HINT);
  });
});
