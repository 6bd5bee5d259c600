import assert from 'node:assert/strict';

/** `value`, asserted to be there: for lookups a test expects to find. */
export function must<T>(value: T | null | undefined, what: string): T {
  assert.ok(value !== null && value !== undefined, `${what} is missing`);
  return value;
}
