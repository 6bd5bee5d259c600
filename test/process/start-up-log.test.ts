/*
 * What the start-up log tells a newcomer: where the server listens, in words (the default host
 * takes requests on every interface), and where the encryption key came from and which store it is
 * bound to: the environment, the configuration file, the key file (generated or found), and on
 * Redis without a configured key a warning that every server needs the same one.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { ProcessPool, type ServerProcess, logLines, runToExit, spawnServer } from '../helpers/server-process.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

const KEY = 'a'.repeat(64);

/** The log line that names the key's source and its store. */
function keyLine(server: ServerProcess): Record<string, unknown> {
  const line = logLines(server.output()).find((l) => typeof l.keyFrom === 'string');
  assert.ok(line, `no line names the key's source:\n${server.output()}`);
  return line;
}

describe('the start-up log', () => {
  const pool = new ProcessPool();
  const dirs: string[] = [];
  let redis: RedisServer;
  const tempDir = (name: string): string => {
    const dir = makeTempDir(name);
    dirs.push(dir);
    return dir;
  };

  before(async () => {
    redis = await startRedisServer();
  });
  after(async () => {
    await pool.killAll();
    await redis?.close();
    for (const dir of dirs) removeDir(dir);
  });

  test('on the default host it says it listens on every interface, and how to keep to this machine', async () => {
    const server = pool.track(await spawnServer({ PORT: '0' }, tempDir('all-interfaces')));
    const port = new URL(server.url).port;
    const line = logLines(server.output()).find((l) => /Kuueri Tasks listening/.test(String(l.msg)));
    assert.equal(
      line?.msg,
      `Kuueri Tasks listening on port ${port} of every network interface (http://localhost:${port} from this machine); ` +
        'set HOST=127.0.0.1 to take requests from this machine only',
    );
    await server.kill('SIGTERM');

    const local = pool.track(await spawnServer({ PORT: '0', HOST: '127.0.0.1' }, tempDir('loopback')));
    const localLine = logLines(local.output()).find((l) => /Kuueri Tasks listening/.test(String(l.msg)));
    assert.equal(localLine?.msg, `Kuueri Tasks listening on ${local.url}`);
    await local.kill('SIGTERM');
  });

  test('the key: generated into the key file, then found there; from the environment; from the configuration file', async () => {
    const bare = { PORT: '0', HOST: '127.0.0.1' };
    const dir = tempDir('key-file');
    const keyFile = join(dir, 'data', 'tasks.key');
    const store = `SQLite ${join(dir, 'data', 'tasks.db')}`;
    const first = pool.track(await spawnServer(bare, dir));
    assert.deepEqual([keyLine(first).keyFrom, keyLine(first).store], [`the key file ${keyFile}, generated now`, store]);
    await first.kill('SIGTERM');
    const again = pool.track(await spawnServer(bare, dir));
    assert.deepEqual([keyLine(again).keyFrom, keyLine(again).store], [`the key file ${keyFile}`, store]);
    assert.equal(keyLine(again).keyId, keyLine(first).keyId, 'the same key');
    await again.kill('SIGTERM');

    const fromEnv = pool.track(await spawnServer({ ...bare, TASKS_CRYPTO_KEY: KEY }, tempDir('key-env')));
    assert.equal(keyLine(fromEnv).keyFrom, 'TASKS_CRYPTO_KEY (environment)');
    assert.ok(!fromEnv.output().includes(KEY), 'the key itself is not logged');
    await fromEnv.kill('SIGTERM');

    const configured = tempDir('key-config');
    mkdirSync(join(configured, 'resource', 'config'), { recursive: true });
    const file = join(configured, 'resource', 'config', 'config.json');
    writeFileSync(file, JSON.stringify({ SERVICE: { CRYPTO: { KEY } } }));
    const fromFile = pool.track(await spawnServer(bare, configured));
    assert.equal(keyLine(fromFile).keyFrom, `SERVICE.CRYPTO.KEY (in ${file})`);
    await fromFile.kill('SIGTERM');
  });

  test('on Redis: without a key it warns that every server needs the same one; another key is refused with how to keep one', async () => {
    const bare = { PORT: '0', HOST: '127.0.0.1', TASKS_DB: redis.url };
    const dir = tempDir('redis-key');
    const server = pool.track(await spawnServer(bare, dir));
    const warning = logLines(server.output()).find((l) => /every server on this Redis needs the same key/.test(String(l.msg)));
    assert.ok(warning, server.output());
    assert.equal(warning.level, 40, 'a warning');
    assert.deepEqual(
      [keyLine(server).keyFrom, keyLine(server).store],
      [`the key file ${join(dir, 'data', 'tasks.key')}, generated now`, `Redis ${redis.url}`],
    );
    await server.kill('SIGTERM');

    const refused = await runToExit({ ...bare, TASKS_CRYPTO_KEY: KEY }, tempDir('redis-other-key'));
    assert.equal(refused.listened, false);
    assert.match(refused.stderr, /sealed with another encryption key/);
    assert.match(refused.stderr, /from TASKS_CRYPTO_KEY \(environment\)/);
    assert.match(refused.stderr, /make it once and keep it/);
  });
});
