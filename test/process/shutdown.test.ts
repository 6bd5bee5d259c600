/*
 * Graceful stop on SIGTERM: the listener closes at once, an attempt in flight is allowed to finish
 * and is recorded before the process exits 0; one that outlasts the grace period is given back and
 * runs again after the restart.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ApiClient } from '../helpers/api-client.js';
import { getTask, getTimeline, waitForFinal } from '../helpers/api-tasks.js';
import { probeConnect } from '../helpers/ports.js';
import { PROCESS_ENV } from '../helpers/server-env.js';
import { logLines, ProcessPool, spawnServer } from '../helpers/server-process.js';
import { type TargetHandler, TargetServer } from '../helpers/target-server.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { holdUntil, waitFor } from '../helpers/wait.js';

const TARGET_ANSWERS_AFTER_MS = 500;

/** The target holds every request until the test answers it, so "a request is in flight" is a fact, not a race. */
const holdEach: TargetHandler = () => ({ hang: true });
const answerAt200: TargetHandler = () => ({ status: 200 });

describe('SIGTERM with a request in flight', () => {
  const pool = new ProcessPool();
  const dirs: string[] = [];
  let target: TargetServer;

  before(async () => {
    target = await TargetServer.start(holdEach);
  });

  after(async () => {
    await pool.killAll();
    await target.close();
    for (const dir of dirs) removeDir(dir);
  });

  test('exits 0 only after the attempt in flight is recorded; new connections are refused meanwhile', async () => {
    const dir = makeTempDir('shutdown');
    dirs.push(dir);
    const env = { ...PROCESS_ENV, TASKS_SHUTDOWN_GRACE_MS: '10000' };
    let server = pool.track(await spawnServer(env, dir));
    let client = new ApiClient(server.url);
    const creds = await client.register();
    const res = await client.subscribe(creds, { httpRequest: { url: target.url('/slow'), method: 'POST' }, config: { executionDelay: 1 } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const id = res.body.id as string;
    const firstRequests = target.requests.length;
    await target.waitForRequests(firstRequests + 1);
    assert.equal(target.heldCount, 1, 'the attempt is in flight');

    let exitedAt = 0;
    const exited = server.exited.then((exit) => {
      exitedAt = Date.now();
      return exit;
    });
    server.proc.kill('SIGTERM');

    // While the attempt is held open, the process stays up, but nothing new gets in.
    // (A connection caught in the accept queue as the listener closes is reset: poll on.)
    const probes: string[] = [];
    await waitFor(
      () => `new connections to be refused after SIGTERM; probes answered: ${probes.join(', ')}`,
      async () => {
        probes.push(await probeConnect(server.url));
        return probes.at(-1) === 'ECONNREFUSED';
      },
      { timeoutMs: 5_000 },
    );
    await waitFor('the server to log that it is shutting down', () =>
      logLines(server.output()).some((l) => String(l.msg).startsWith('shutting down')),
    );
    assert.equal(server.proc.exitCode, null, 'the process waits for the attempt in flight');
    assert.equal(server.proc.signalCode, null, 'not killed by a signal');

    // The target answers about 500 ms after the request arrived: the process must stay up through
    // an attempt that is still in flight well into the shutdown, and only time shows that.
    await holdUntil(target.requests.at(-1)!.at + TARGET_ANSWERS_AFTER_MS, 'the attempt stays in flight into the shutdown for a while');
    const answeredAt = Date.now();
    assert.equal(target.answerHeld(200), 1, 'the connection of the attempt was still open when the target answered');

    const exit = await waitFor('the process to exit after the target answered', exited, { timeoutMs: 15_000 });
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, server.output());
    assert.ok(exitedAt >= answeredAt, 'the process exited after the target answered');
    assert.equal(await probeConnect(server.url), 'ECONNREFUSED', 'nothing listens after the exit');
    const messages = logLines(server.output()).map((l) => String(l.msg));
    assert.ok(messages.includes('stopped'), messages.join('\n'));
    assert.ok(!messages.some((m) => m.startsWith('aborted attempts')), 'no attempt was aborted');

    // After a restart the attempt is on record: COMPLETED, sent once, not run again.
    server = pool.track(await spawnServer(env, dir));
    client = new ApiClient(server.url);
    const task = await getTask(client, creds, id);
    assert.equal(task.state, 'COMPLETED', JSON.stringify(task));
    assert.equal(task.statusCode, 200, JSON.stringify(task));
    assert.equal(task.updates.attempts, 1, JSON.stringify(task));
    const timeline = await getTimeline(client, creds, id);
    assert.deepEqual(
      timeline.map((e) => e.label),
      ['Subscribe', 'Complete'],
    );
    assert.equal(target.requests.filter((r) => r.headers['x-kuueri-tasks-queue'] === id).length, 1, 'sent once');
    await server.kill('SIGTERM');
  });

  test('a subscribe in progress when SIGTERM arrives is either refused or kept: a 201 is never lost', async (t) => {
    const dir = makeTempDir('shutdown-subscribe');
    dirs.push(dir);
    const env = { ...PROCESS_ENV, TASKS_SHUTDOWN_GRACE_MS: '10000' };
    let server = pool.track(await spawnServer(env, dir));
    let client = new ApiClient(server.url);
    const creds = await client.register();
    target.respond(answerAt200);
    try {
      // The body arrives in two parts; SIGTERM lands between them.
      const body = JSON.stringify({ httpRequest: { url: target.url('/mid-shutdown'), method: 'POST' }, config: { executionDelay: 1 } });
      const { hostname, port } = new URL(server.url);
      const socket = connect({ host: hostname, port: Number(port) });
      await once(socket, 'connect');
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      const closed = once(socket, 'close');
      socket.write(
        'POST /v1beta/subscribe HTTP/1.1\r\nHost: tasks\r\nContent-Type: application/json\r\n' +
          `Content-Length: ${Buffer.byteLength(body)}\r\nAuthorization: Bearer ${creds.token}\r\nX-Kuueri-Tasks-Project: ${creds.id}\r\n` +
          `Connection: close\r\n\r\n${body.slice(0, 20)}`,
      );
      server.proc.kill('SIGTERM');
      await waitFor('the listener to close after SIGTERM', async () => (await probeConnect(server.url)) === 'ECONNREFUSED', {
        timeoutMs: 5_000,
      });
      socket.end(body.slice(20));
      await waitFor(() => `the connection to be answered and closed; got so far: ${answer}`, closed, { timeoutMs: 10_000 });
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
      const exit = await waitFor('the process to exit', server.exited, { timeoutMs: 15_000 });
      assert.deepEqual(exit, { code: 0, signal: null }, server.output());
      t.diagnostic(`the subscribe in progress at SIGTERM was answered ${status}`);
      if (status === 201) {
        const id = (JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { id: string }).id;
        server = pool.track(await spawnServer(env, dir));
        client = new ApiClient(server.url);
        assert.equal((await waitForFinal(client, creds, id)).state, 'COMPLETED');
        assert.ok(
          target.requests.some((r) => r.headers['x-kuueri-tasks-queue'] === id),
          'the acknowledged task reached the target',
        );
        await server.kill('SIGTERM');
      } else {
        assert.equal(status, 503, `refused as unavailable, not failed: ${answer}`);
      }
    } finally {
      target.respond(holdEach);
    }
  });

  test('an attempt that outlasts the grace period is aborted, exits 0, and runs again after the restart', async () => {
    const dir = makeTempDir('shutdown-grace');
    dirs.push(dir);
    const env = { ...PROCESS_ENV, TASKS_SHUTDOWN_GRACE_MS: '300' };
    let server = pool.track(await spawnServer(env, dir));
    let client = new ApiClient(server.url);
    const creds = await client.register();
    const res = await client.subscribe(creds, {
      httpRequest: { url: target.url('/never'), method: 'POST' },
      config: { executionDelay: 1 },
    });
    assert.equal(res.status, 201);
    const id = res.body.id as string;
    const sentFor = (): number => target.requests.filter((r) => r.headers['x-kuueri-tasks-queue'] === id).length;
    await waitFor('the attempt to reach the target', () => sentFor() === 1);

    const exit = await server.kill('SIGTERM');
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, server.output());
    assert.ok(
      logLines(server.output()).some((l) => String(l.msg).startsWith('aborted attempts')),
      'the attempt was aborted',
    );

    target.respond(answerAt200);
    try {
      server = pool.track(await spawnServer(env, dir));
      client = new ApiClient(server.url);
      const done = await waitForFinal(client, creds, id);
      assert.equal(done.state, 'COMPLETED');
      assert.equal(sentFor(), 2, 'sent again after the restart');
      const labels = (await getTimeline(client, creds, id)).map((e) => e.label);
      assert.deepEqual(labels, ['Subscribe', 'Alert', 'Complete']);
    } finally {
      target.respond(holdEach);
    }
    await server.kill('SIGTERM');
  });
});
