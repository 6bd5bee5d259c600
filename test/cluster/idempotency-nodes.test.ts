import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Credentials } from '../helpers/api-client.js';
import { activeCount, b64 } from '../helpers/api-tasks.js';
import { clusterEnv, killNodes, type Node, startNodes } from '../helpers/cluster-nodes.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';

/**
 * Idempotency-Key across nodes: three server processes on one real Redis, each sent the same
 * subscribes at once. The key is checked and recorded inside the script that inserts the task, so
 * each key makes exactly one task whichever node answers.
 */
describe('Idempotency-Key on three servers sharing one Redis', () => {
  let redis: RedisServer;
  let nodes: Node[] | undefined;
  let creds: Credentials;

  before(async () => {
    redis = await startRedisServer();
    nodes = await startNodes(3, clusterEnv(redis.url));
    creds = await nodes[0]!.client.register();
  });
  after(async () => {
    await killNodes(nodes);
    await redis?.close();
  });

  test('concurrent subscribes with one key on three nodes create one task per key', async () => {
    const keys = Array.from({ length: 10 }, (_, i) => `cluster-key-${i}`);
    const body = (key: string): unknown => ({
      // Nothing is sent: the target is never due within the test.
      httpRequest: { url: 'http://127.0.0.1:9/never', method: 'POST', data: b64(key) },
      config: { executionDelay: 3_600_000 },
    });
    const calls = keys.flatMap((key) =>
      nodes!.flatMap((node) =>
        Array.from({ length: 4 }, () =>
          node.client
            .request('POST', '/v1beta/subscribe', { creds, body: body(key), headers: { 'idempotency-key': key } })
            .then((res) => ({ key, res })),
        ),
      ),
    );
    const answers = await Promise.all(calls);
    for (const key of keys) {
      const mine = answers.filter((a) => a.key === key).map((a) => a.res);
      const statuses = JSON.stringify(mine.map((r) => [r.status, r.body.id ?? r.body.code]));
      assert.equal(mine.filter((r) => r.status === 201).length, 1, `${key}: one 201 of ${statuses}`);
      assert.equal(
        mine.filter((r) => r.status === 200 && r.headers.get('idempotent-replayed') === 'true').length,
        11,
        `${key}: the rest replayed`,
      );
      assert.equal(new Set(mine.map((r) => r.body.id)).size, 1, `${key}: one task id`);
    }
    assert.equal(await activeCount(nodes![1]!.client, creds), keys.length);
  });
});
