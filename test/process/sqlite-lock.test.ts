/*
 * One server process per SQLite database, whatever path names the file: a symbolic link to it, a
 * folder reached through a link (as a second mount of the folder reaches it), or a hard link. Real
 * server processes on a real file.
 */
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { PROCESS_ENV as BASE_ENV, TEST_CRYPTO_KEY } from '../helpers/server-env.js';
import { ProcessPool, type RefusedStart, runToExit, spawnServer } from '../helpers/server-process.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

/** Asserts the process refused to start with one line on stderr matching each of `expected`. */
function assertRefused(exit: RefusedStart, expected: RegExp[]): void {
  const all = `stdout:\n${exit.stdout}\nstderr:\n${exit.stderr}`;
  assert.equal(exit.listened, false, `it started listening:\n${all}`);
  assert.equal(exit.timedOut, false, all);
  assert.notEqual(exit.code, 0, all);
  assert.notEqual(exit.code, null, all);
  assert.equal(exit.stderr.trimEnd().split('\n').length, 1, `one message:\n${exit.stderr}`);
  for (const pattern of expected) assert.match(exit.stderr, pattern);
}

describe('one server per SQLite database file, whatever path opens it', () => {
  const pool = new ProcessPool();
  const dirs: string[] = [];
  const tempDir = (name: string): string => {
    const dir = makeTempDir(name);
    dirs.push(dir);
    return dir;
  };
  // One key for every server: the key file lives beside the database path, and a server refused for
  // another key would hide whether the lock refused it.
  const PROCESS_ENV = { ...BASE_ENV, TASKS_CRYPTO_KEY: TEST_CRYPTO_KEY };
  const withDb = (url: string): Record<string, string> => ({ ...PROCESS_ENV, TASKS_DB: url });

  after(async () => {
    await pool.killAll();
    for (const dir of dirs) removeDir(dir);
  });

  test('a symbolic link to the file, or to its folder, reaches the same lock: the second process is refused', async () => {
    const dir = tempDir('symlink');
    const first = pool.track(await spawnServer(PROCESS_ENV, dir)); // ./data/tasks.db
    mkdirSync(join(dir, 'other'));
    symlinkSync(join(dir, 'data', 'tasks.db'), join(dir, 'other', 'link.db'));
    symlinkSync(join(dir, 'data'), join(dir, 'alias'));
    for (const url of ['sqlite:./other/link.db', 'sqlite:./alias/tasks.db']) {
      const second = await runToExit(withDb(url), dir);
      assertRefused(second, [
        new RegExp(`Another Kuueri Tasks process \\(pid ${first.proc.pid}\\) is using this database`),
        new RegExp(`lock ${join(dir, 'data', 'tasks.db.lock').replaceAll('.', '\\.')}`),
      ]);
    }
    assert.equal((await fetch(`${first.url}/healthz`)).status, 200, 'the first server is untouched');
  });

  test('a database file with a second hard link is refused, by a second process and by a restart, until the link is gone', async () => {
    const dir = tempDir('hardlink');
    const first = pool.track(await spawnServer(PROCESS_ENV, dir));
    linkSync(join(dir, 'data', 'tasks.db'), join(dir, 'copy.db'));
    const hardLinked = [/The database file .*(tasks|copy)\.db has 2 hard links/, /-wal and -shm files/, /-samefile/];

    assertRefused(await runToExit(withDb('sqlite:./copy.db'), dir), hardLinked);
    assert.equal((await fetch(`${first.url}/healthz`)).status, 200, 'the first server is untouched');

    assert.deepEqual(await first.kill('SIGTERM'), { code: 0, signal: null });
    assertRefused(await runToExit(PROCESS_ENV, dir), hardLinked);

    rmSync(join(dir, 'copy.db'));
    const restarted = pool.track(await spawnServer(PROCESS_ENV, dir));
    assert.equal((await fetch(`${restarted.url}/healthz`)).status, 200);
  });
});
