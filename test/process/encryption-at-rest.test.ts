/*
 * The request a user sends may carry secrets: it is stored sealed. The raw bytes of the database
 * and its WAL never hold a header value, a query parameter or the body (decoded or base64), before
 * the task runs, after it ran, or after a clean stop; the target still receives them all.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApiClient } from '../helpers/api-client.js';
import { waitForFinal } from '../helpers/api-tasks.js';
import { PROCESS_ENV } from '../helpers/server-env.js';
import { ProcessPool, spawnServer } from '../helpers/server-process.js';
import { TargetServer } from '../helpers/target-server.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

const HEADER_SECRET = 'HEADER-SECRET-9876-abcdef';
const PARAM_SECRET = 'PARAM-SECRET-5555-qwerty';
const BODY = 'BODY-SECRET-1234';
const BODY_BASE64 = Buffer.from(BODY).toString('base64');

/** Every form a secret could take in the files: as sent, base64, base64url, and UTF-16 text. */
function needles(): Array<{ name: string; bytes: Buffer }> {
  const out: Array<{ name: string; bytes: Buffer }> = [];
  const plain: Array<[string, string]> = [
    ['header value', HEADER_SECRET],
    ['query parameter', PARAM_SECRET],
    ['body', BODY],
    ['body (base64)', BODY_BASE64],
  ];
  for (const [name, value] of plain) {
    out.push({ name, bytes: Buffer.from(value, 'utf8') });
    out.push({ name: `${name} (utf-16)`, bytes: Buffer.from(value, 'utf16le') });
  }
  out.push({ name: 'body (base64url)', bytes: Buffer.from(Buffer.from(BODY).toString('base64url')) });
  out.push({ name: 'header value (base64)', bytes: Buffer.from(Buffer.from(HEADER_SECRET).toString('base64')) });
  return out;
}

describe('encryption at rest', () => {
  const pool = new ProcessPool();
  let dir: string;
  let target: TargetServer;

  before(async () => {
    dir = makeTempDir('at-rest');
    target = await TargetServer.start();
  });

  after(async () => {
    await pool.killAll();
    await target.close();
    removeDir(dir);
  });

  /** Reads data/tasks.db and every file beside it that SQLite writes (-wal, -shm, -journal). */
  function assertNoSecretOnDisk(when: string, id: string): string[] {
    const dataDir = join(dir, 'data');
    const files = readdirSync(dataDir).filter((f) => f.startsWith('tasks.db'));
    assert.ok(files.includes('tasks.db'), `${when}: data/tasks.db exists (${files.join(', ')})`);
    let idSeen = false;
    for (const file of files) {
      const bytes = readFileSync(join(dataDir, file));
      idSeen ||= bytes.includes(id);
      for (const needle of needles()) {
        assert.equal(bytes.indexOf(needle.bytes), -1, `${when}: the ${needle.name} appears in plain text in data/${file}`);
      }
    }
    // Control: what is stored in the clear (the task id) is found, so the search sees the writes.
    assert.ok(idSeen, `${when}: the task id is found in the files`);
    return files;
  }

  test('the database and its WAL never hold the secret header, parameter or body; the target receives them', async (t) => {
    const server = pool.track(await spawnServer(PROCESS_ENV, dir));
    const client = new ApiClient(server.url);
    const creds = await client.register();
    const res = await client.subscribe(creds, {
      httpRequest: {
        url: target.url('/secret'),
        method: 'POST',
        data: BODY_BASE64,
        params: { apikey: PARAM_SECRET },
        headers: { 'X-Api-Key': HEADER_SECRET, 'Content-Type': 'text/plain' },
      },
      config: { executionDelay: '1500ms' },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const id = res.body.id as string;

    // Stored, not yet sent: the insert sits in the WAL.
    assert.equal(target.requests.length, 0, 'read the files before the task ran (setup was too slow)');
    const pending = assertNoSecretOnDisk('while pending', id);
    assert.ok(existsSync(join(dir, 'data', 'tasks.db-wal')), 'the WAL exists while the server runs');

    // Sent: the target gets every secret as given.
    const [received] = await target.waitForRequests(1);
    assert.equal(received!.headers['x-api-key'], HEADER_SECRET);
    assert.equal(received!.url, `/secret?apikey=${PARAM_SECRET}`);
    assert.equal(received!.body.toString(), BODY);
    assert.equal((await waitForFinal(client, creds, id)).state, 'COMPLETED');
    assertNoSecretOnDisk('after the run', id);

    // A clean stop checkpoints the WAL into the database file.
    assert.deepEqual(await server.kill('SIGTERM'), { code: 0, signal: null });
    const stopped = assertNoSecretOnDisk('after a clean stop', id);

    // Nor does the log hold them.
    for (const secret of [HEADER_SECRET, PARAM_SECRET, BODY, BODY_BASE64]) {
      assert.equal(server.output().includes(secret), false, `${secret} appears in the log`);
    }
    t.diagnostic(`files checked while pending: ${pending.join(', ')}; after the stop: ${stopped.join(', ')}`);
  });
});
