/*
 * "A restart loses nothing that was acknowledged with 201" (at-least-once), against the real
 * process: a mixed batch of tasks, SIGKILL while some are due, some in flight at a slow target,
 * some waiting for a retry and some subscribes still in progress, then a restart on the same folder.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiClient, type Credentials } from '../helpers/api-client.js';
import { getTask, getTimeline, waitForFinal } from '../helpers/api-tasks.js';
import { mapPool } from '../helpers/pool.js';
import { PROCESS_ENV } from '../helpers/server-env.js';
import { logLines, ProcessPool, type ServerProcess, spawnServer } from '../helpers/server-process.js';
import { type RecordedRequest, TargetServer } from '../helpers/target-server.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { holdUntil, waitFor } from '../helpers/wait.js';

type Group = 'soon' | 'slow' | 'retry' | 'later' | 'far' | 'racing';

interface Acked {
  id: string;
  group: Group;
  execAt: number;
}

const COUNTS: Record<Exclude<Group, 'racing'>, number> = { soon: 80, slow: 30, retry: 30, later: 40, far: 20 };
const RETRY_INTERVAL_MS = 1_000;
const FAR_DELAY_MS = 9_000;
const SLOW_ANSWER_MS = 5_000;
const ENV = { ...PROCESS_ENV, TASKS_LEASE_MS: '3000' };

const queueOf = (r: RecordedRequest): string => String(r.headers['x-kuueri-tasks-queue']);
const executionOf = (r: RecordedRequest): string =>
  `${String(r.headers['x-kuueri-tasks-retry-count'])}/${String(r.headers['x-kuueri-tasks-repeat-count'])}`;

function bodyFor(group: Group, target: TargetServer, i: number): unknown {
  const path = group === 'slow' ? '/slow' : group === 'retry' ? '/fail-once' : '/ok';
  const httpRequest = { url: target.url(path), method: 'POST', data: Buffer.from(`${group}-${i}`).toString('base64') };
  switch (group) {
    case 'soon':
      return { httpRequest, config: { executionDelay: 1 + (i % 10) * 50 } };
    case 'retry':
      return { httpRequest, config: { executionDelay: 1, retry: 2, retryInterval: RETRY_INTERVAL_MS, retryExponential: false } };
    case 'later':
      return { httpRequest, config: { executionDelay: '3s' } };
    case 'far':
      return { httpRequest, config: { executionDelay: FAR_DELAY_MS } };
    default:
      return { httpRequest, config: { executionDelay: 1 } };
  }
}

describe('SIGKILL with tasks pending, then a restart on the same database', () => {
  const pool = new ProcessPool();
  let dir: string;
  let target: TargetServer;

  before(async () => {
    dir = makeTempDir('crash');
    const answered = new Map<string, number>();
    target = await TargetServer.start((request) => {
      const id = queueOf(request);
      const n = answered.get(id) ?? 0;
      answered.set(id, n + 1);
      const path = request.url.split('?')[0];
      if (path === '/slow' && n === 0) return { status: 200, delayMs: SLOW_ANSWER_MS };
      if (path === '/fail-once' && n === 0) return { status: 500 };
      return { status: 200 };
    });
  });

  after(async () => {
    await pool.killAll();
    await target.close();
    removeDir(dir);
  });

  test('every task answered 201 reaches the target and ends in a final state; overdue ones carry an Alert', async (t) => {
    let server: ServerProcess = pool.track(await spawnServer(ENV, dir));
    let client = new ApiClient(server.url);
    const creds: Credentials = await client.register();

    // 1. The batch, subscribed 16 at a time.
    const plan: Group[] = (Object.entries(COUNTS) as [Group, number][]).flatMap(([group, n]) => Array.from({ length: n }, () => group));
    const acked: Acked[] = await mapPool(plan, 16, async (group, i) => {
      const res = await client.subscribe(creds, bodyFor(group, target, i));
      assert.equal(res.status, 201, `subscribe ${group} #${i}: ${JSON.stringify(res.body)}`);
      return { id: res.body.id as string, group, execAt: res.body.estimateExecAt as number };
    });
    const ids = (group: Group): string[] => acked.filter((a) => a.group === group).map((a) => a.id);

    // 2. Wait until every slow task is in flight at the target and every retry task has failed once.
    const inFlight = new Set([...ids('slow'), ...ids('retry')]);
    await waitFor('the slow and retry tasks to reach the target', () =>
      [...inFlight].every((id) => target.requests.some((r) => queueOf(r) === id)),
    );

    // 3. Keep subscribing while the process is killed: a 201 seen just before SIGKILL still counts.
    let stopRacing = false;
    let racingFailed = 0;
    const racers = Array.from({ length: 8 }, async () => {
      for (let i = 0; !stopRacing && i < 1_000; i++) {
        try {
          const res = await client.subscribe(creds, bodyFor('racing', target, i));
          if (res.status === 201) acked.push({ id: res.body.id as string, group: 'racing', execAt: res.body.estimateExecAt as number });
          else racingFailed++;
        } catch {
          racingFailed++; // the connection died with the server: not acknowledged, no promise made
        }
      }
    });
    await waitFor('10 subscribes racing the kill to be acknowledged', () => ids('racing').length >= 10);
    const killAt = Date.now();
    const killed = await server.kill('SIGKILL');
    stopRacing = true;
    await Promise.all(racers);
    assert.equal(killed.signal, 'SIGKILL');
    const deliveredBeforeKill = target.requests.length;

    // 4. Let every execution pending at the kill fall due while nothing runs (the wait is the point):
    //    first executions by their estimateExecAt, retries scheduled at most RETRY_INTERVAL after a
    //    failure recorded before the kill.
    const nonFar = acked.filter((a) => a.group !== 'far');
    const dueBy = Math.max(...nonFar.map((a) => a.execAt), killAt + RETRY_INTERVAL_MS) + 250;
    await holdUntil(dueBy, 'every pending execution falls due while no server runs');

    const restartAt = Date.now();
    server = pool.track(await spawnServer(ENV, dir));
    const listeningAt = Date.now();
    client = new ApiClient(server.url);

    // 5. Every acknowledged id reaches the target, and every task ends in a final state.
    const ackedIds = new Set(acked.map((a) => a.id));
    const missing = (): string[] => {
      const seen = new Set(target.requests.map(queueOf));
      return [...ackedIds].filter((id) => !seen.has(id));
    };
    await waitFor(
      () =>
        `every acknowledged task to reach the target; never delivered: ${missing().length} of ${ackedIds.size}: ${missing().slice(0, 10).join(', ')}`,
      () => missing().length === 0,
      { timeoutMs: FAR_DELAY_MS + 15_000 },
    );
    const overdueDeliveredAt = Date.now();
    const finals = await mapPool(acked, 16, async (a) => ({ ...a, task: await waitForFinal(client, creds, a.id) }));
    const allFinalAt = Date.now();
    for (const f of finals) {
      assert.equal(f.task.state, 'COMPLETED', `${f.group} task ${f.id} ended ${f.task.state}`);
      assert.equal(f.task.statusCode, 200, `${f.group} task ${f.id}`);
    }

    // 6. Deliveries: before the kill they came from the first process, after it from the second.
    const before = new Map<string, RecordedRequest[]>();
    const afterRestart = new Map<string, RecordedRequest[]>();
    for (const r of target.requests) {
      assert.ok(r.at < killAt + 1_000 || r.at >= restartAt, 'no delivery while no server ran');
      const into = r.at >= restartAt ? afterRestart : before;
      into.set(queueOf(r), [...(into.get(queueOf(r)) ?? []), r]);
    }
    // The second process never sends the same execution twice.
    for (const [id, list] of afterRestart) {
      const executions = list.map(executionOf);
      assert.equal(new Set(executions).size, executions.length, `task ${id} sent twice after the restart: ${executions.join(', ')}`);
    }
    // Tasks in flight at the slow target when killed had no recorded outcome: they must run again.
    for (const id of ids('slow')) {
      assert.ok(before.has(id), `slow task ${id} was in flight before the kill`);
      assert.ok(afterRestart.has(id), `slow task ${id}, in flight when killed, was not sent again after the restart`);
    }

    // 7. Alert entries: exactly one on every task the second process ran for an execution that fell
    //    due before it started; none on tasks it did not run for a missed execution.
    let alerted = 0;
    let farChecked = 0;
    const timelines = await mapPool(finals, 16, async (f) => ({ ...f, timeline: await getTimeline(client, creds, f.id) }));
    for (const f of timelines) {
      const alerts = f.timeline.filter((e) => e.label === 'Alert').length;
      const labels = f.timeline.map((e) => e.label).join(' > ');
      if (f.group === 'far') {
        if (f.execAt <= listeningAt) continue; // the restart was slower than planned: its time passed too
        farChecked++;
        assert.equal(alerts, 0, `far task ${f.id} was due after the restart, yet: ${labels}`);
        assert.equal(before.has(f.id), false, `far task ${f.id} ran before it was due`);
        continue;
      }
      if (afterRestart.has(f.id)) {
        assert.equal(alerts, 1, `${f.group} task ${f.id} was overdue at the restart and ran then: ${labels}`);
        alerted++;
      } else {
        assert.equal(alerts, 0, `${f.group} task ${f.id} finished before the kill: ${labels}`);
      }
    }

    // 8. The project's queue count survived the crash: nothing is left RUNNING or PAUSED.
    const info = await client.info(creds);
    assert.equal(info.status, 200);
    assert.equal(info.body.taskInQueue, 0, `taskInQueue after every task finished: ${JSON.stringify(info.body)}`);

    // Figures.
    let duplicates = 0;
    const byExecution = new Map<string, number>();
    for (const r of target.requests) {
      const key = `${queueOf(r)}@${executionOf(r)}`;
      byExecution.set(key, (byExecution.get(key) ?? 0) + 1);
    }
    for (const n of byExecution.values()) duplicates += Math.max(0, n - 1);
    const releasedLine = logLines(server.output()).find((l) => typeof l.released === 'number');
    const released = releasedLine ? Number(releasedLine.released) : 0;
    t.diagnostic(
      `acknowledged ${acked.length} (${ids('racing').length} while racing the kill; ${racingFailed} subscribes cut off), ` +
        `delivered before the kill ${deliveredBeforeKill} requests, after ${target.requests.length - deliveredBeforeKill}`,
    );
    t.diagnostic(
      `executions delivered twice: ${duplicates}; tasks with an Alert: ${alerted}; far tasks checked for no Alert: ${farChecked}`,
    );
    t.diagnostic(`leases released at the restart: ${released}`);
    t.diagnostic(
      `restart to listening ${listeningAt - restartAt} ms; to every task delivered ${overdueDeliveredAt - restartAt} ms ` +
        `(far tasks were due ${FAR_DELAY_MS} ms after subscribing); to every task final ${allFinalAt - restartAt} ms`,
    );
    assert.ok(alerted >= COUNTS.slow, 'at least the tasks in flight at the kill were recovered with an Alert');
  });

  test('a paused task stays paused across SIGKILL with its time left, a cancelled one never runs', async () => {
    const stateDir = makeTempDir('crash-paused');
    try {
      let server = pool.track(await spawnServer(ENV, stateDir));
      let client = new ApiClient(server.url);
      const creds = await client.register();
      const subscribe = async (path: string, delay: string): Promise<string> => {
        const res = await client.subscribe(creds, {
          httpRequest: { url: target.url(path), method: 'POST' },
          config: { executionDelay: delay },
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        return res.body.id as string;
      };
      const pausedId = await subscribe('/paused', '2s');
      const cancelledId = await subscribe('/cancelled', '2s');
      // Due after both: once it has been sent, so would they have been.
      const canaryId = await subscribe('/canary', '2500ms');
      assert.equal((await client.pause(creds, pausedId)).status, 200);
      assert.equal((await client.unsubscribe(creds, cancelledId)).status, 200);
      const pausedBefore = await getTask(client, creds, pausedId);
      assert.equal(pausedBefore.state, 'PAUSED');

      await server.kill('SIGKILL');
      server = pool.track(await spawnServer(ENV, stateDir));
      client = new ApiClient(server.url);
      assert.equal((await waitForFinal(client, creds, canaryId)).state, 'COMPLETED');
      const sentTo = (path: string): number => target.requests.filter((r) => r.url === path).length;
      assert.equal(sentTo('/cancelled'), 0, 'the cancelled task was not sent');
      assert.equal(sentTo('/paused'), 0, 'the paused task was not sent');
      const cancelled = (await client.task(creds, cancelledId)).body;
      assert.equal(cancelled.state, 'CANCELED');
      const paused = await getTask(client, creds, pausedId);
      assert.equal(paused.state, 'PAUSED');
      assert.equal(paused.updates.pausedTimeLeft, pausedBefore.updates.pausedTimeLeft, 'the time left is kept');
      assert.equal((await client.info(creds)).body.taskInQueue, 1, 'the paused task still counts as in queue');

      assert.equal((await client.resume(creds, pausedId)).status, 200);
      assert.equal((await waitForFinal(client, creds, pausedId)).state, 'COMPLETED');
      assert.equal(sentTo('/paused'), 1);
      const labels = (await getTimeline(client, creds, pausedId)).map((e) => e.label);
      assert.deepEqual(labels, ['Subscribe', 'Pause', 'Resume', 'Complete']);
      await server.kill('SIGTERM');
    } finally {
      removeDir(stateDir);
    }
  });
});
