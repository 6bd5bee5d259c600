import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { Credentials } from '../helpers/api-client.js';
import { waitForEmptyQueue } from '../helpers/api-tasks.js';
import { clusterEnv, killNodes, type Node, startNodes, waitForDeliveries } from '../helpers/cluster-nodes.js';
import { mapPool } from '../helpers/pool.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { TargetServer } from '../helpers/target-server.js';
import { holdUntil } from '../helpers/wait.js';

describe('redis-server stopped and restarted while tasks are pending', () => {
  let redis: RedisServer | undefined;
  let target: TargetServer | undefined;
  let nodes: Node[] | undefined;
  const deliveries = new Map<string, number>();

  before(async () => {
    redis = await startRedisServer({ persistence: true });
    target = await TargetServer.start((request) => {
      const id = String(request.headers['x-kuueri-tasks-queue']);
      deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
      return { status: 200 };
    });
    nodes = await startNodes(2, clusterEnv(redis.url));
  });
  after(async () => {
    await killNodes(nodes);
    await target?.close();
    await redis?.close();
  });

  test('the servers stay up and answer 503 STORE_UNAVAILABLE meanwhile; afterwards every acknowledged task is delivered', async (t) => {
    const [a, b] = nodes!;
    const creds: Credentials = await a!.client.register();
    const queued = await mapPool(
      Array.from({ length: 600 }, (_, i) => i),
      32,
      async (i) => {
        const res = await (i % 2 ? a! : b!).client.subscribe(creds, {
          httpRequest: { url: target!.url(`/job?n=${i}`), method: 'POST' },
          config: { executionDelay: 1_500 + ((i * 37) % 2_500) },
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        return { id: res.body.id as string, dueAt: res.body.estimateExecAt as number };
      },
    );
    const ids = queued.map((q) => q.id);

    await redis!.stop(); // SIGTERM: Redis writes its append-only file and exits
    for (const node of [a!, b!]) {
      const health = await node.client.request('GET', '/healthz');
      assert.equal(health.status, 503);
      assert.equal(health.body.code, 'STORE_UNAVAILABLE');
      const refused = await node.client.subscribe(creds, { httpRequest: { url: target!.url('/late'), method: 'POST' } });
      assert.equal(refused.status, 503, JSON.stringify(refused.body));
      assert.equal(refused.body.code, 'STORE_UNAVAILABLE');
    }
    // Stay down past the time the tasks were due, so they are late when Redis comes back.
    await holdUntil(Math.max(...queued.map((q) => q.dueAt)) + 500, 'every task falls due while Redis is down');
    assert.equal(a!.process.proc.exitCode, null, 'node a is still running');
    assert.equal(b!.process.proc.exitCode, null, 'node b is still running');

    await redis!.start();
    await waitForDeliveries(ids, deliveries, { timeoutMs: 60_000 });
    await waitForEmptyQueue(a!.client, creds, { timeoutMs: 30_000 });
    const twice = ids.filter((id) => (deliveries.get(id) ?? 0) > 1);
    t.diagnostic(`after the Redis restart: ${ids.length} of ${ids.length} delivered, ${twice.length} twice`);
    assert.equal((await b!.client.request('GET', '/healthz')).status, 200);
  });
});

/** Redis's first reply line to one inline command on a fresh connection. */
async function rawReply(port: number, command: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  try {
    socket.write(`${command}\r\n`);
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    return chunk.toString().split('\r\n')[0]!;
  } finally {
    socket.destroy();
  }
}

describe('resource/config/redis.conf', () => {
  const conf = fileURLToPath(new URL('../../resource/config/redis.conf', import.meta.url));
  let redis: RedisServer | undefined;
  let nodes: Node[] | undefined;
  let target: TargetServer | undefined;

  before(async () => {
    redis = await startRedisServer({
      configFile: conf,
      persistence: true,
      pingUrl: (port) => `redis://admin:change-me-admin-password@127.0.0.1:${port}`,
    });
    target = await TargetServer.start();
  });
  after(async () => {
    await killNodes(nodes);
    await target?.close();
    await redis?.close();
  });

  const client = async (user: string, password: string): Promise<Redis> => {
    const c = new Redis(`redis://${user}:${password}@127.0.0.1:${redis!.port}`, { lazyConnect: true, maxRetriesPerRequest: 0 });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };

  test('the tasks user may not run FLUSHALL FLUSHDB SHUTDOWN CONFIG BGREWRITEAOF BGSAVE RENAME DEBUG (nor KEYS, MONITOR)', async () => {
    const admin = await client('admin', 'change-me-admin-password');
    const tasks = await client('tasks', 'change-me-tasks-password');
    try {
      const forbidden: [string, ...string[]][] = [
        ['FLUSHALL'],
        ['FLUSHDB'],
        ['SHUTDOWN', 'NOSAVE'],
        ['CONFIG', 'GET', 'dir'],
        ['BGREWRITEAOF'],
        ['BGSAVE'],
        ['RENAME', 'kt:a', 'kt:b'],
        ['DEBUG', 'SLEEP', '0'],
        ['KEYS', 'kt:*'],
        ['MONITOR'],
        ['ACL', 'SETUSER', 'tasks', '+@all'],
        ['ACL', 'LIST'],
      ];
      // ACL DRYRUN asks the ACL alone, without running anything (DEBUG is also off server-wide).
      for (const command of forbidden) {
        const verdict = String(await admin.call('ACL', 'DRYRUN', 'tasks', ...command));
        assert.match(verdict, /no permissions/i, `${command[0]} must be refused to the tasks user: ${verdict}`);
      }
      for (const [command, ...args] of [['FLUSHALL'], ['CONFIG', 'GET', 'dir'], ['KEYS', 'kt:*']] as [string, ...string[]][]) {
        await assert.rejects(tasks.call(command, ...args), /NOPERM/, `${command} must be refused`);
      }
      // What the service needs is allowed, on its own keys only.
      for (const command of [
        ['EVALSHA', 'abc', '0'],
        ['SELECT', '3'],
        ['ZRANGE', 'kt:due', '0', '0'],
        ['SUBSCRIBE', 'kt:due'],
        ['INFO'],
        ['ACL', 'WHOAMI'],
      ]) {
        assert.equal(String(await admin.call('ACL', 'DRYRUN', 'tasks', ...command)), 'OK', `${command[0]} must be allowed`);
      }
      assert.equal(await tasks.call('SET', 'kt:probe', '1'), 'OK', 'its own keys are writable');
      await assert.rejects(tasks.call('SET', 'other:probe', '1'), /NOPERM/, 'keys outside kt:* are not');
    } finally {
      admin.disconnect();
      tasks.disconnect();
    }
  });

  test('the default user is off; a server logged in as the tasks user delivers tasks', async () => {
    const anonymous = new Redis(`redis://127.0.0.1:${redis!.port}`, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    anonymous.on('error', () => undefined);
    await anonymous.connect().catch(() => undefined);
    await assert.rejects(anonymous.call('GET', 'kt:probe'), /NOAUTH|NOPERM|WRONGPASS|closed|disabled/i);
    // It keeps its permissions for loading the AOF (redis.conf says why), but nobody can log in as it.
    for (const password of ['anything', '']) {
      assert.match(await rawReply(redis!.port, `AUTH default "${password}"`), /^-WRONGPASS/);
    }
    anonymous.disconnect();

    nodes = await startNodes(1, clusterEnv(`redis://tasks:change-me-tasks-password@127.0.0.1:${redis!.port}`));
    const [node] = nodes;
    const creds = await node!.client.register();
    const res = await node!.client.subscribe(creds, { httpRequest: { url: target!.url('/acl'), method: 'POST' } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const [received] = await target!.waitForRequests(1);
    assert.equal(received!.headers['x-kuueri-tasks-queue'], res.body.id);
  });

  test('a task with a 1 KB body is stored as a compact hash; one with a 6 KB body as a hash table, and reads back the same', async () => {
    const node = nodes![0]!;
    const creds = await node.client.register();
    const subscribe = async (bytes: number): Promise<string> => {
      const res = await node.client.subscribe(creds, {
        httpRequest: { url: target!.url('/size'), method: 'POST', data: Buffer.alloc(bytes, 'k').toString('base64') },
        config: { executionDelay: '1h' },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.id as string;
    };
    const small = await subscribe(1_000);
    const large = await subscribe(6_000);
    const admin = new Redis(`redis://admin:change-me-admin-password@127.0.0.1:${redis!.port}/1`, { maxRetriesPerRequest: 0 });
    try {
      // The sealed request is the longest value (~1.4 KB for a 1 KB body): over Redis's default 64 bytes.
      assert.equal(await admin.object('ENCODING', `kt:task:${small}`), 'listpack');
      assert.equal(await admin.object('ENCODING', `kt:task:${large}`), 'hashtable');
    } finally {
      admin.disconnect();
    }
    for (const id of [small, large]) {
      const task = await node.client.task(creds, id);
      assert.equal(task.status, 200);
      assert.equal(task.body.state, 'RUNNING', JSON.stringify(task.body));
    }
  });
});
