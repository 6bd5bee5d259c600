import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Temporary folders for a test's data (a SQLite file, a server's working folder), named
 * `kuueri-<prefix>-…` so a leftover says which test made it. The real path: macOS's /tmp is a link,
 * and some tests compare paths.
 */
export function makeTempDir(prefix: string): string {
  return realpathSync(mkdtempSync(join(tmpdir(), `kuueri-${prefix}-`)));
}

/** Removes a folder made by `makeTempDir` (nothing when `dir` is undefined or already gone). */
export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}
