import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ScheduleView } from '../../src/core/shapes.js';
import { getTask, getTimeline } from '../helpers/api-tasks.js';
import { clusterEnv, killNodes, type Node, startNodes } from '../helpers/cluster-nodes.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { TargetServer } from '../helpers/target-server.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Three server processes on one real Redis, every one of them running a scheduler that looks at the
 * store often (a 100 ms poll, so the three race for every run): each run of each schedule becomes
 * exactly one task, delivered once, and no instant is left out.
 */
describe('schedules on three servers sharing one Redis', () => {
  let redis: RedisServer;
  let target: TargetServer;
  let nodes: Node[] | undefined;
  const deliveries = new Map<string, number>();

  before(async () => {
    redis = await startRedisServer();
    target = await TargetServer.start((request) => {
      const id = String(request.headers['x-kuueri-tasks-queue']);
      deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
      return { status: 200 };
    });
    nodes = await startNodes(3, clusterEnv(redis.url, { TASKS_POLL_MS: '100' }));
  });

  after(async () => {
    await killNodes(nodes);
    await target?.close();
    await redis?.close();
  });

  test('each run of each schedule is made once across the nodes', async () => {
    const all = nodes!;
    const creds = await all[0]!.client.register();
    const schedules: ScheduleView[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await all[i % 3]!.client.request<ScheduleView>('POST', '/v1beta/schedules', {
        creds,
        body: { cron: '* * * * * *', overlap: 'allow', httpRequest: { url: target.url(`/s${i}`), method: 'POST' } },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      schedules.push(res.body);
    }
    const RUNS = 5;
    await waitFor('five runs of every schedule delivered', () => schedules.every((_, i) => target.requestsOn(`/s${i}`).length >= RUNS), {
      timeoutMs: 60_000,
    });
    for (const [i, schedule] of schedules.entries()) {
      await all[i % 3]!.client.request('PATCH', `/v1beta/schedules/${schedule.id}/pause`, { creds });
    }
    for (const [i, schedule] of schedules.entries()) {
      const read = await all[(i + 1) % 3]!.client.request<ScheduleView>('GET', `/v1beta/schedules/${schedule.id}`, { creds });
      const runs = read.body.runs;
      // Every run made is delivered (the last ones after the pause, as they were made before it).
      const requests = await target.waitForRequests(runs, { path: `/s${i}`, timeoutMs: 30_000 });
      assert.equal(requests.length, runs, `schedule ${i}: one delivery per run`);
      const instants: number[] = [];
      for (const request of requests) {
        const id = String(request.headers['x-kuueri-tasks-queue']);
        assert.equal(deliveries.get(id), 1, `task ${id} delivered once`);
        const task = await getTask(all[0]!.client, creds, id);
        assert.equal(task.scheduleId, schedule.id);
        // The run's instant, as its Schedule entry names it (its execution may be later, on a busy machine).
        const timeline = await getTimeline(all[1]!.client, creds, id);
        instants.push(Number(timeline.find((e) => e.label === 'Schedule')?.metadata?.['instant']));
      }
      const sorted = [...instants].sort((a, b) => a - b);
      assert.equal(new Set(sorted).size, sorted.length, `schedule ${i}: an instant made twice: ${sorted.join(' ')}`);
      for (let k = 1; k < sorted.length; k++) assert.equal(sorted[k]! - sorted[k - 1]!, 1_000, `schedule ${i}: a run left out`);
    }
  });
});
