import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { normaliseEmail } from '../../src/core/email.js';
import { LIMITS } from '../../src/core/limits.js';

describe('normaliseEmail', () => {
  const valid: [string, string][] = [
    ['user@example.com', 'user@example.com'],
    ['User.Name@Example.COM', 'user.name@example.com'],
    ['a@b.co', 'a@b.co'],
    ['first.last+tag@sub.domain.example.org', 'first.last+tag@sub.domain.example.org'],
    ["o'brien@example.ie", "o'brien@example.ie"],
    ['x_y-z@my-host.example', 'x_y-z@my-host.example'],
    ['123@456.example', '123@456.example'],
    [`${'a'.repeat(64)}@example.com`, `${'a'.repeat(64)}@example.com`],
    [`a@${'b'.repeat(63)}.com`, `a@${'b'.repeat(63)}.com`],
  ];
  for (const [raw, normalised] of valid) {
    test(`accepts ${raw.length > 40 ? `${raw.slice(0, 20)}…` : raw}`, () => {
      assert.equal(normaliseEmail(raw), normalised, raw);
    });
  }

  const invalid: [string, string][] = [
    ['', 'empty'],
    ['userexample.com', 'no @'],
    ['user@@example.com', 'two @'],
    ['a@b@example.com', 'two @ apart'],
    ['@example.com', 'no local part'],
    ['user@', 'no domain'],
    ['user@localhost', 'no TLD'],
    ['user@example.c', 'one-letter TLD'],
    ['user@example.123', 'numeric TLD'],
    ['user@1.2.3.4', 'an IP address'],
    ['user@[127.0.0.1]', 'an address literal'],
    ['user name@example.com', 'space in the local part'],
    [' user@example.com', 'leading space'],
    ['user@example.com ', 'trailing space'],
    ['user@exa mple.com', 'space in the domain'],
    ['.user@example.com', 'local part starts with a dot'],
    ['user.@example.com', 'local part ends with a dot'],
    ['us..er@example.com', 'two dots in the local part'],
    ['user@example..com', 'two dots in the domain'],
    ['user@.example.com', 'domain starts with a dot'],
    ['user@-example.com', 'label starts with a hyphen'],
    ['user@example-.com', 'label ends with a hyphen'],
    ['user@exa_mple.com', 'underscore in the domain'],
    ['"user"@example.com', 'quoted local part'],
    ['üser@example.com', 'non-ASCII local part'],
    ['user@exämple.com', 'non-ASCII domain'],
    ['user@example.com\n', 'trailing newline'],
    [`${'a'.repeat(65)}@example.com`, 'local part over 64'],
    [`a@${'b'.repeat(64)}.com`, 'label over 63'],
  ];
  for (const [raw, label] of invalid) {
    test(`refuses ${label}`, () => {
      assert.equal(normaliseEmail(raw), null, JSON.stringify(raw));
    });
  }

  test(`refuses addresses longer than ${LIMITS.emailLength} characters`, () => {
    const domain = (length: number): string => {
      // labels of 50 characters joined by dots, ending in ".com", exactly `length` long
      const labels: string[] = [];
      let rest = length - 4;
      while (rest > 0) {
        const size = Math.min(50, rest);
        labels.push('d'.repeat(size));
        rest -= size + 1;
      }
      const text = `${labels.join('.')}.com`;
      return text.slice(text.length - length).replace(/^\./, 'd');
    };
    const at = (total: number): string => `user@${domain(total - 5)}`;
    assert.equal(at(LIMITS.emailLength).length, LIMITS.emailLength);
    assert.equal(at(LIMITS.emailLength + 1).length, LIMITS.emailLength + 1);
    assert.equal(normaliseEmail(at(LIMITS.emailLength)), at(LIMITS.emailLength));
    assert.equal(normaliseEmail(at(LIMITS.emailLength + 1)), null);
  });
});
