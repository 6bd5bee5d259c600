/*
 * The seed's production path: with TASKS_KEY_FILENAME and TASKS_VERSION set, the server reads its
 * config.json from Google Cloud Secret Manager through Google's own client library. Here the
 * library talks HTTP to a local stand-in of Google's endpoints (test/helpers/secret-manager-server.ts),
 * which accepts only credentials signed by the service account's key.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApiClient } from '../helpers/api-client.js';
import { freePort } from '../helpers/ports.js';
import { SecretManagerStandIn } from '../helpers/secret-manager-server.js';
import { logLines, ProcessPool, type RefusedStart, runToExit, spawnServer } from '../helpers/server-process.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

const VERSION = 'projects/test-project/secrets/kuueri-config/versions/3';

describe('configuration from Secret Manager', () => {
  const standIn = new SecretManagerStandIn();
  const pool = new ProcessPool();
  let dir: string;
  let keyFile: string;

  /** The environment that names the secret; `extra` adds to or overrides it. */
  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    HOST: '127.0.0.1',
    TASKS_LOG_LEVEL: 'info',
    TASKS_KEY_FILENAME: keyFile,
    TASKS_VERSION: VERSION,
    TASKS_SECRET_MANAGER_ENDPOINT: standIn.origin,
    ...extra,
  });

  /** The refusal's one message, checked to hold `pattern` and to name no secret. */
  const refusedWith = (exit: RefusedStart, pattern: RegExp): void => {
    assert.equal(exit.listened, false, exit.stdout + exit.stderr);
    assert.equal(exit.code, 78, `exit code 78 (EX_CONFIG):\n${exit.stdout}${exit.stderr}`);
    assert.match(exit.stderr, /^Invalid configuration:\n {2}- /);
    assert.match(exit.stderr, pattern);
    assert.doesNotMatch(exit.stderr, /PRIVATE KEY/);
  };

  before(async () => {
    await standIn.start();
    dir = makeTempDir('secret-manager');
    keyFile = join(dir, 'service-account.json');
    standIn.writeKeyFile(keyFile);
  });

  after(async () => {
    await pool.killAll();
    await standIn.stop();
    removeDir(dir);
  });

  test('the server starts with the config.json stored in the secret, the environment still winning', async () => {
    const port = await freePort();
    const config = {
      PORT: port,
      LEVEL: 'PRODUCTION',
      SERVICE: { QUEUE: { LIMIT: 7 }, CRYPTO: { KEY: 'f'.repeat(64) } },
      DATABASE: { URL: `sqlite:${join(dir, 'tasks.db')}` },
    };
    standIn.versions.set(VERSION, { data: JSON.stringify(config) });
    const server = pool.track(await spawnServer(env({ TASKS_QUEUE_LIMIT: '9' }), dir));
    assert.equal(server.url, `http://127.0.0.1:${port}`, 'PORT from the secret');

    const listening = logLines(server.output()).find((line) => String(line.msg).startsWith('Kuueri Tasks listening'));
    assert.equal(listening?.LEVEL, 'PRODUCTION', 'LEVEL from the secret');
    assert.equal(listening?.configFile, `Secret Manager ${VERSION}`);
    assert.match(server.output(), /SERVICE\.CRYPTO\.KEY \(in Secret Manager projects\/test-project/, 'the key came from the secret');

    const client = new ApiClient(server.url);
    const creds = await client.register('ops@example.com');
    const info = await client.request('GET', '/v1beta/info', { creds });
    assert.equal(info.body.as, 'GUEST', 'a production server registers guests');
    assert.equal(info.body.taskInQueueLimit, 9, 'TASKS_QUEUE_LIMIT in the environment beats the secret');

    assert.ok(standIn.seen.length > 0, 'the client library asked the stand-in');
    assert.ok(
      standIn.seen.every((s) => s.path === `/v1/${VERSION}:access` && s.auth !== 'refused'),
      `every request was signed by the service account's key: ${JSON.stringify(standIn.seen)}`,
    );
    await server.kill('SIGTERM');
  });

  test('permission denied stops the start and names the role to grant', async () => {
    standIn.versions.set(VERSION, { data: null });
    const exit = await runToExit(env(), dir);
    refusedWith(exit, /refused kuueri-tasks@test-project\.iam\.gserviceaccount\.com access to projects\/.*Secret Manager Secret Accessor/);
  });

  test('a version that does not exist stops the start', async () => {
    const exit = await runToExit(env({ TASKS_VERSION: 'projects/test-project/secrets/kuueri-config/versions/99' }), dir);
    refusedWith(exit, /Secret Manager has no projects\/test-project\/secrets\/kuueri-config\/versions\/99/);
  });

  test('a secret that is not valid JSON stops the start, naming the version', async () => {
    standIn.versions.set(VERSION, { data: '{"PORT": 8202,' });
    const exit = await runToExit(env(), dir);
    refusedWith(exit, new RegExp(`Secret Manager ${VERSION}: not valid JSON`));
  });

  test('a secret with a bad setting is refused like a bad local file', async () => {
    standIn.versions.set(VERSION, { data: JSON.stringify({ PORT: 'eighty', MODULE: { HTTPS: {} } }) });
    const exit = await runToExit(env(), dir);
    refusedWith(exit, /PORT \(in Secret Manager projects\/test-project\/secrets\/kuueri-config\/versions\/3\): /);
    assert.match(exit.stderr, /MODULE\.HTTPS: unknown key/);
  });

  test('a key file that is missing or is not a service account key stops the start', async () => {
    refusedWith(
      await runToExit(env({ TASKS_KEY_FILENAME: join(dir, 'missing.json') }), dir),
      /TASKS_KEY_FILENAME .*missing\.json: no such file/,
    );
    const wrong = join(dir, 'wrong.json');
    standIn.writeKeyFile(wrong, { type: 'authorized_user' });
    refusedWith(await runToExit(env({ TASKS_KEY_FILENAME: wrong }), dir), /is not a service account key/);
  });

  test('credentials the endpoint does not accept stop the start', async () => {
    standIn.versions.set(VERSION, { data: '{}' });
    const other = new SecretManagerStandIn('someone-else@test-project.iam.gserviceaccount.com');
    const forged = join(dir, 'forged.json');
    other.writeKeyFile(forged, { client_email: standIn.clientEmail });
    refusedWith(await runToExit(env({ TASKS_KEY_FILENAME: forged }), dir), /did not accept the credentials/);
  });

  test('one of the two variables without the other, or a malformed version, stops the start', async () => {
    refusedWith(await runToExit(env({ TASKS_VERSION: '' }), dir), /TASKS_VERSION \(environment\): must be set with TASKS_KEY_FILENAME/);
    refusedWith(await runToExit(env({ TASKS_VERSION: 'kuueri-config' }), dir), /must be a version name, projects\/<project>/);
  });
});
