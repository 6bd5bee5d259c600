/*
 * Starting the real process: zero configuration in an empty folder, the generated key kept and
 * reused, invalid configuration refused before listening with one message listing every problem,
 * and one server process per SQLite database.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApiClient } from '../helpers/api-client.js';
import { waitForFinal } from '../helpers/api-tasks.js';
import { PROCESS_ENV } from '../helpers/server-env.js';
import { logLines, ProcessPool, type RefusedStart, runToExit, spawnServer } from '../helpers/server-process.js';
import { TargetServer } from '../helpers/target-server.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';

const GENERATED = /generated a new key/;

/** Asserts the process refused to start: non-zero exit, never listened, and one message on stderr listing `expected` (one bullet each). */
function assertRefused(exit: RefusedStart, expected: RegExp[]): void {
  const all = `stdout:\n${exit.stdout}\nstderr:\n${exit.stderr}`;
  assert.equal(exit.listened, false, `it started listening:\n${all}`);
  assert.equal(exit.timedOut, false, `still running after 15 s:\n${all}`);
  assert.notEqual(exit.code, null, all);
  assert.notEqual(exit.code, 0, all);
  assert.doesNotMatch(exit.stdout + exit.stderr, /listening/i, 'it never listened');
  const lines = exit.stderr.trimEnd().split('\n');
  assert.equal(lines[0], 'Invalid configuration:', `one message, headed once:\n${exit.stderr}`);
  const bullets = lines.slice(1);
  assert.ok(
    bullets.every((l) => l.startsWith('  - ')),
    `every further line is one problem:\n${exit.stderr}`,
  );
  for (const pattern of expected) {
    assert.equal(bullets.filter((l) => pattern.test(l)).length, 1, `one line matching ${String(pattern)}:\n${exit.stderr}`);
  }
  assert.equal(bullets.length, expected.length, `exactly the ${expected.length} problems:\n${exit.stderr}`);
}

describe('starting the server process', () => {
  const pool = new ProcessPool();
  const dirs: string[] = [];
  let target: TargetServer;
  const tempDir = (name: string): string => {
    const dir = makeTempDir(name);
    dirs.push(dir);
    return dir;
  };

  before(async () => {
    target = await TargetServer.start();
  });

  after(async () => {
    await pool.killAll();
    await target.close();
    for (const dir of dirs) removeDir(dir);
  });

  test('zero configuration in an empty folder; the generated key is kept and reused on the next start', async () => {
    const dir = tempDir('zero');
    const bare = { PORT: '0', HOST: '127.0.0.1' };
    const first = pool.track(await spawnServer(bare, dir));
    const health = await fetch(`${first.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, 'ok');

    const db = join(dir, 'data', 'tasks.db');
    const keyFile = join(dir, 'data', 'tasks.key');
    assert.ok(existsSync(db), `data/tasks.db exists: ${readdirSync(dir, { recursive: true }).join(', ')}`);
    assert.ok(existsSync(keyFile), 'data/tasks.key exists');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600, 'tasks.key is readable by its owner only');
    const key = readFileSync(keyFile);
    assert.match(first.output(), GENERATED, 'the log says a key was generated');
    const generated = logLines(first.output()).find((l) => GENERATED.test(String(l.msg)));
    assert.equal(generated?.file, keyFile, 'the log names the key file');
    assert.ok(!first.output().includes(key.toString().trim()), 'the key itself is not logged');
    assert.deepEqual(await first.kill('SIGTERM'), { code: 0, signal: null });

    // Second start on the same folder: the key is reused, and a task sealed with it...
    const env = { ...bare, TASKS_ALLOW_TARGETS: '127.0.0.0/8' };
    const second = pool.track(await spawnServer(env, dir));
    assert.doesNotMatch(second.output(), GENERATED, 'no new key on the second start');
    assert.doesNotMatch(second.output(), /readable by other users/);
    let client = new ApiClient(second.url);
    const creds = await client.register();
    const res = await client.subscribe(creds, {
      httpRequest: {
        url: target.url('/kept'),
        method: 'POST',
        data: Buffer.from('sealed before the restart').toString('base64'),
        headers: { 'X-Token': 'kept-1' },
      },
      config: { executionDelay: '3s' },
    });
    assert.equal(res.status, 201);
    const id = res.body.id as string;
    assert.deepEqual(await second.kill('SIGTERM'), { code: 0, signal: null });
    assert.equal(
      target.requests.filter((r) => r.url === '/kept').length,
      0,
      'the task had not run before the restart (setup was too slow)',
    );

    // ...is delivered, intact, by a third start that opens it with the same key.
    const third = pool.track(await spawnServer(env, dir));
    assert.doesNotMatch(third.output(), GENERATED);
    assert.deepEqual(readFileSync(keyFile), key, 'the key file is unchanged');
    client = new ApiClient(third.url);
    await waitFor('the task to reach the target', () => target.requests.some((r) => r.url === '/kept'));
    const received = target.requests.find((r) => r.url === '/kept');
    assert.equal(received!.url, '/kept');
    assert.equal(received!.headers['x-token'], 'kept-1');
    assert.equal(received!.body.toString(), 'sealed before the restart');
    assert.equal((await waitForFinal(client, creds, id)).state, 'COMPLETED');
    assert.deepEqual(await third.kill('SIGTERM'), { code: 0, signal: null });
  });

  test('invalid environment: exits non-zero before listening, with one message listing every problem', async () => {
    const dir = tempDir('bad-env');
    const exit = await runToExit(
      { PORT: '99999', HOST: '127.0.0.1', TASKS_THROTTLE_LIMIT: 'abc', TASKS_DB: 'mysql://x', TASKS_TRUST_PROXY: 'true' },
      dir,
    );
    assertRefused(exit, [
      /\bPORT\b.*65535/,
      /TASKS_THROTTLE_LIMIT.*integer/,
      /TASKS_DB.*mysql:\/\/x/,
      /TASKS_TRUST_PROXY \(environment\): true would trust every hop.* e\.g\. TASKS_TRUST_PROXY=10\.0\.0\.2,10\.1\.0\.0\/16$/,
    ]);
    assert.equal(exit.code, 78, 'EX_CONFIG');
    assert.deepEqual(readdirSync(dir), [], 'nothing was created');
  });

  test('invalid config.json: an unknown key and wrong types are all reported at once', async () => {
    const dir = tempDir('bad-file');
    mkdirSync(join(dir, 'resource', 'config'), { recursive: true });
    writeFileSync(
      join(dir, 'resource', 'config', 'config.json'),
      JSON.stringify({ LEVEL: 5, UNKNOWN_KEY: true, MODULE: { THROTTLER: { LIMTI: 5 } }, SERVICE: { QUEUE: { LIMIT: 'many' } } }),
    );
    const exit = await runToExit({ PORT: '0', HOST: '127.0.0.1' }, dir);
    assertRefused(exit, [
      /\bLEVEL\b.*one of/,
      /UNKNOWN_KEY.*unknown/,
      /MODULE\.THROTTLER\.LIMTI.*unknown/,
      /SERVICE\.QUEUE\.LIMIT.*integer/,
    ]);
    assert.deepEqual(readdirSync(dir), ['resource'], 'nothing was created');
  });

  test('invalid config.json: a section that is not an object is reported, not ignored', async () => {
    const dir = tempDir('bad-section');
    mkdirSync(join(dir, 'resource', 'config'), { recursive: true });
    // MODULE.THROTTLER holds TTL and LIMIT; a number there is as wrong as a string in LIMIT.
    writeFileSync(join(dir, 'resource', 'config', 'config.json'), JSON.stringify({ MODULE: { THROTTLER: 5 } }));
    const exit = await runToExit({ PORT: '0', HOST: '127.0.0.1' }, dir);
    assertRefused(exit, [/MODULE\.THROTTLER\b/]);
  });

  test('a second process on the same SQLite database refuses to start while the first runs', async () => {
    const dir = tempDir('lock');
    const first = pool.track(await spawnServer(PROCESS_ENV, dir));
    // Same file, named differently: the default path, then an explicit URL.
    for (const env of [PROCESS_ENV, { ...PROCESS_ENV, TASKS_DB: 'sqlite:./data/tasks.db' }]) {
      const second = await runToExit(env, dir);
      const all = `stdout:\n${second.stdout}\nstderr:\n${second.stderr}`;
      assert.equal(second.listened, false, all);
      assert.equal(second.timedOut, false, all);
      assert.notEqual(second.code, 0, all);
      assert.notEqual(second.code, null, all);
      assert.doesNotMatch(all, /listening/i);
      assert.equal(second.stderr.trimEnd().split('\n').length, 1, `one message:\n${second.stderr}`);
      assert.match(second.stderr, new RegExp(`Another Kuueri Tasks process \\(pid ${first.proc.pid}\\) is using this database`));
      assert.match(second.stderr, /tasks\.db\.lock/);
    }

    // The first is untouched: healthy, and still delivering.
    const health = await fetch(`${first.url}/healthz`);
    assert.equal(health.status, 200);
    const client = new ApiClient(first.url);
    const creds = await client.register();
    const res = await client.subscribe(creds, { httpRequest: { url: target.url('/after-lock'), method: 'POST' } });
    assert.equal(res.status, 201);
    assert.equal((await waitForFinal(client, creds, res.body.id as string)).state, 'COMPLETED');

    // Once it has stopped, the next start takes the database.
    assert.deepEqual(await first.kill('SIGTERM'), { code: 0, signal: null });
    assert.equal(existsSync(join(dir, 'data', 'tasks.db.lock.pid')), false, "the holder's pid is removed on a clean stop");
    const next = pool.track(await spawnServer(PROCESS_ENV, dir));
    assert.equal((await fetch(`${next.url}/healthz`)).status, 200);
    await next.kill('SIGTERM');
  });

  test('after a crash, a lock file whose pid now belongs to another program does not block the restart', async () => {
    const dir = tempDir('stale-lock');
    const crashed = pool.track(await spawnServer(PROCESS_ENV, dir));
    const creds = await new ApiClient(crashed.url).register();
    const res = await new ApiClient(crashed.url).subscribe(creds, {
      httpRequest: { url: target.url('/after-crash'), method: 'POST' },
      config: { executionDelay: '1s' },
    });
    assert.equal(res.status, 201);
    assert.equal((await crashed.kill('SIGKILL')).signal, 'SIGKILL');
    const lock = join(dir, 'data', 'tasks.db.lock.pid');
    assert.equal(readFileSync(lock, 'utf8'), String(crashed.proc.pid), "SIGKILL left the holder's pid behind");

    // Pids start over after a reboot or a container restart: the recorded one now names a live
    // process that is no Kuueri Tasks server and holds nothing.
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      writeFileSync(lock, String(other.pid));
      const restarted = pool.track(await spawnServer(PROCESS_ENV, dir));
      const client = new ApiClient(restarted.url);
      assert.equal((await waitForFinal(client, creds, res.body.id as string)).state, 'COMPLETED');
      await restarted.kill('SIGTERM');
    } finally {
      other.kill('SIGKILL');
    }
  });
});
