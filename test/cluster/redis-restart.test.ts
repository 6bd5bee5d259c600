import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { Credentials } from '../helpers/api-client.js';
import { waitForEmptyQueue } from '../helpers/api-tasks.js';
import { clusterEnv, killNodes, type Node, startNodes, waitForDeliveries } from '../helpers/cluster-nodes.js';
import { mapPool } from '../helpers/pool.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { TargetServer } from '../helpers/target-server.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { holdFor, waitFor } from '../helpers/wait.js';

/**
 * The shipped resource/config/redis.conf through Redis restarts, as an operator runs it: only the
 * port and the data folder are overridden. Every task is written by a Lua script, which Redis keeps
 * in its append-only file as MULTI/EXEC; Redis 7.0 checks those transactions against the default
 * user's permissions when it loads the file (redis/redis#14541), so a config whose default user
 * has none loses every task at restart, quietly but for its log.
 */
const CONF = fileURLToPath(new URL('../../resource/config/redis.conf', import.meta.url));
const ADMIN = 'admin:change-me-admin-password';
const TASKS = 'tasks:change-me-tasks-password';
const TASK_COUNT = 50;
/** Long enough for both restarts to end before any task is due; the test says so if not. */
const DELAY_MS = 8_000;
/** appendfsync everysec: the append-only file is fsynced at most a second after a write. */
const FSYNC_WINDOW_MS = 1_000;

describe('the shipped redis.conf through a graceful restart and a kill -9 of Redis', () => {
  let redis: RedisServer | undefined;
  let target: TargetServer | undefined;
  let nodes: Node[] | undefined;
  const deliveries = new Map<string, number>();

  before(async () => {
    redis = await startRedisServer({ configFile: CONF, pingUrl: (port) => `redis://${ADMIN}@127.0.0.1:${port}` });
    target = await TargetServer.start((request) => {
      const id = String(request.headers['x-kuueri-tasks-queue']);
      deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
      return { status: 200 };
    });
    nodes = await startNodes(1, clusterEnv(`redis://${TASKS}@127.0.0.1:${redis.port}`));
  });
  after(async () => {
    await killNodes(nodes);
    await target?.close();
    await redis?.close();
  });

  const admin = async <T>(work: (client: Redis) => Promise<T>): Promise<T> => {
    const client = new Redis(`redis://${ADMIN}@127.0.0.1:${redis!.port}`, { maxRetriesPerRequest: 0 });
    client.on('error', () => undefined);
    try {
      return await work(client);
    } finally {
      client.disconnect();
    }
  };

  /** Every acknowledged task is still queued after the restart, and Redis dropped nothing loading its AOF. */
  const assertAllThere = async (creds: Credentials, ids: readonly string[], after: string): Promise<void> => {
    const [node] = nodes!;
    await waitFor(`the server to reconnect ${after}`, async () => (await node!.client.request('GET', '/healthz')).status === 200, {
      timeoutMs: 15_000,
    });
    const info = await node!.client.info(creds);
    assert.equal(info.body.taskInQueue, ids.length, `taskInQueue ${after}`);
    const states = await mapPool(ids, 16, async (id) => {
      const res = await node!.client.task(creds, id);
      return res.status === 200 ? String(res.body.state) : `HTTP ${res.status}`;
    });
    assert.deepEqual([...new Set(states)], ['RUNNING'], `every task ${after}`);
    const errors = await admin((c) => c.info('stats'));
    assert.match(errors, /^unexpected_error_replies:0\r?$/m, `Redis answered its AOF with errors ${after}`);
    assert.doesNotMatch(redis!.log(), /CRITICAL/, `redis.log ${after}`);
  };

  test('every acknowledged task is still there after each restart, and is delivered once', async (t) => {
    const [node] = nodes!;
    const creds = await node!.client.register();
    const dueAt = Date.now() + DELAY_MS;
    const ids = await mapPool(
      Array.from({ length: TASK_COUNT }, (_, i) => i),
      8,
      async (i) => {
        const res = await node!.client.subscribe(creds, {
          httpRequest: { url: target!.url(`/restart?n=${i}`), method: 'POST', data: Buffer.from(`task ${i}`).toString('base64') },
          config: { executionAt: dueAt },
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        return String(res.body.id);
      },
    );

    await redis!.stop(); // SIGTERM: the same graceful stop as SHUTDOWN
    await redis!.start();
    await assertAllThere(creds, ids, 'after a graceful restart');

    // Up to a second of writes may be lost to a crash with appendfsync everysec (docs/storage.md):
    // that window is waited out, so what is checked is the load, not the fsync. Redis's INFO says
    // nowhere when it last synced, so the window is a time to let pass, not a state to wait for.
    await holdFor(FSYNC_WINDOW_MS + 200, 'the AOF fsync window of appendfsync everysec passes');
    await redis!.stop({ kill: true });
    await redis!.start();
    await assertAllThere(creds, ids, 'after kill -9');
    assert.ok(Date.now() < dueAt, `the restarts took past the tasks' due time (${Date.now() - dueAt} ms): raise DELAY_MS`);

    await waitForDeliveries(ids, deliveries, { timeoutMs: 30_000 });
    await waitForEmptyQueue(node!.client, creds, { timeoutMs: 15_000 });
    const counts = ids.map((id) => deliveries.get(id));
    assert.deepEqual([...new Set(counts)], [1], 'each task delivered exactly once');
    t.diagnostic(`${ids.length} tasks through a graceful restart and a kill -9 of Redis: all delivered, once each`);
  });
});

describe('the start-up log names the risks to acknowledged tasks that Redis reports', () => {
  const servers: RedisServer[] = [];
  const started: Node[] = [];
  after(async () => {
    await killNodes(started);
    await Promise.all(servers.map((s) => s.close()));
  });

  const startNode = async (url: string): Promise<Node> => {
    const [node] = await startNodes(1, clusterEnv(url));
    started.push(node!);
    return node!;
  };
  const warnings = (node: Node): string[] =>
    node.process
      .output()
      .split('\n')
      .filter((line) => line.includes('"level":40'))
      .map((line) => String((JSON.parse(line) as { msg: string }).msg));

  test('the shipped config: who the server is and that the AOF is on, no warning', async () => {
    const redis = await startRedisServer({ configFile: CONF, pingUrl: (port) => `redis://${ADMIN}@127.0.0.1:${port}` });
    servers.push(redis);
    const node = await startNode(`redis://${TASKS}@127.0.0.1:${redis.port}`);
    const opened = node.process
      .output()
      .split('\n')
      .find((line) => line.includes('redis store opened'));
    assert.ok(opened, node.process.output());
    assert.match(opened, /"user":"tasks"/);
    assert.match(opened, /"aof":true/);
    assert.match(opened, /"maxmemoryPolicy":"noeviction"/);
    assert.deepEqual(warnings(node), []);
  });

  test('a Redis without an append-only file: a warning says a crash loses tasks', async () => {
    const redis = await startRedisServer();
    servers.push(redis);
    const node = await startNode(redis.url);
    assert.match(warnings(node).join('\n'), /append-only file off \(aof_enabled:0\)/);
  });

  test('a Redis that dropped transactions loading its AOF (a default user without permissions): a warning', async (t) => {
    // The shipped config as it was before: `user default off`, with no permissions.
    const shipped = readFileSync(CONF, 'utf8');
    const rule = /^user default off .*$/m;
    assert.match(shipped, rule);
    const folder = makeTempDir('conf');
    const before = join(folder, 'redis.conf');
    writeFileSync(before, shipped.replace(rule, 'user default off'));
    const redis = await startRedisServer({ configFile: before, pingUrl: (port) => `redis://${ADMIN}@127.0.0.1:${port}` });
    servers.push(redis);
    t.after(() => removeDir(folder));
    const url = `redis://${TASKS}@127.0.0.1:${redis.port}`;
    const first = await startNode(url);
    const creds = await first.client.register();
    const res = await first.client.subscribe(creds, {
      httpRequest: { url: 'http://127.0.0.1:9/never', method: 'POST' },
      config: { executionDelay: '1h' },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    await redis.stop();
    await redis.start();
    const second = await startNode(url);
    assert.match(warnings(second).join('\n'), /answered \d+ command\(s\) from its append-only file .* with an error/);
    assert.match(redis.log(), /CRITICAL.*NOPERM/);
  });
});
