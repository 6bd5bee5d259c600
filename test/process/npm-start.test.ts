/*
 * The README's command, `npm start`, stopped the way a process manager stops it: SIGTERM to the
 * process it started, which is npm. npm passes the signal on to the script's process; unless that
 * process is the server itself, the server never hears it and is left running (holding the port
 * and the SQLite lock) after npm has gone.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { probeConnect } from '../helpers/ports.js';
import { PROCESS_ENV } from '../helpers/server-env.js';
import { logLines } from '../helpers/server-process.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

describe('npm start', () => {
  let npm: ChildProcess | null = null;
  let dir: string | undefined;

  after(() => {
    // npm runs in a process group of its own: whatever it started, even left behind, goes with it.
    if (npm?.pid !== undefined) {
      try {
        process.kill(-npm.pid, 'SIGKILL');
      } catch {
        // the group is gone already
      }
    }
    removeDir(dir);
  });

  test('SIGTERM to npm stops the server gracefully: it logs "stopped" and frees its port', async () => {
    dir = makeTempDir('npm-start');
    const env = { ...PROCESS_ENV, PATH: process.env.PATH ?? '', HOME: dir, TASKS_DB: `sqlite:${dir}/tasks.db` };
    npm = spawn('npm', ['start', '--silent'], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    npm.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    npm.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // Resolved with an object: npm may end by the signal itself, with no exit code.
    const exited = new Promise<{ code: number | null }>((resolve) => npm!.once('exit', (code) => resolve({ code })));

    const url = await waitFor('the server to listen', () => /"url":"(http:\/\/[^"]+)"[^\n]*Kuueri Tasks listening/.exec(output)?.[1], {
      timeoutMs: 30_000,
    });
    assert.equal(await probeConnect(url), 'connected');

    npm.kill('SIGTERM');
    await waitFor('npm to exit', exited, { timeoutMs: 15_000 });
    await waitFor('the port to be freed', async () => (await probeConnect(url, 500)) !== 'connected', { timeoutMs: 10_000, everyMs: 100 });
    assert.ok(
      logLines(output).some((line) => line.msg === 'stopped'),
      `the server did not log "stopped":\n${output}`,
    );
  });
});
