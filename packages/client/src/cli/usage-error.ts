/** A mistake in how the CLI was called or configured: it exits with status 2 and says what to fix. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
