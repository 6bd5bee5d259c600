/*
 * A crash loop: the real server process is SIGKILLed at a random point of a burst of subscribes
 * and deliveries, ten times in a row, restarted each time on the same store (the same SQLite
 * folder; the same redis-server). Each subscribe carries a unique marker in its params (?n=17) and
 * is remembered as acknowledged (201), refused (any other answer: a 400, or a 429 QUEUE_FULL from a
 * deliberately small queue limit) or unknown (the connection died with the process). At the end,
 * after one last start, the markers the target received include every acknowledged one and none of
 * the refused ones; every acknowledged task is COMPLETED, and the project's queue is empty again.
 * Duplicates (at-least-once) are counted per round and reported; a duplicate sent by one and the
 * same process (no crash in between) is a failure.
 *
 * The plan of every round (how many subscribes, which are invalid or flaky, their delays, where the
 * kill falls) comes from a seeded PRNG; the seed is in every message. Replay with
 * KUUERI_ATTACK_SEED=<seed>.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiClient, type Credentials } from '../helpers/api-client.js';
import { waitForEmptyQueue } from '../helpers/api-tasks.js';
import { mapPool } from '../helpers/pool.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { attackSeed, seededRandom } from '../helpers/seeded-random.js';
import { PROCESS_ENV, storeEnv } from '../helpers/server-env.js';
import { ProcessPool, type ServerProcess, spawnServer } from '../helpers/server-process.js';
import { type RecordedRequest, TargetServer } from '../helpers/target-server.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { holdFor, waitFor } from '../helpers/wait.js';

const ROUNDS = 10;
const QUEUE_LIMIT = 40;
const SUBSCRIBERS = 12;

type Kind = 'plain' | 'flaky' | 'invalid';

interface Planned {
  n: number;
  kind: Kind;
  delayMs: number;
}

interface RoundPlan {
  subscribes: Planned[];
  /** Kill once this many subscribes were answered, or, when null, after the burst and `lingerMs`. */
  killAfterAnswers: number | null;
  lingerMs: number;
}

type Fate =
  | { kind: 'acked'; id: string; round: number }
  | { kind: 'refused'; status: number; code: string; round: number }
  | { kind: 'unknown'; round: number };

interface Delivery {
  n: number;
  execution: string;
  /** The server process that sent it (the one running when the target received it). */
  generation: number;
  /** When the target received it (epoch ms). */
  at: number;
}

interface RoundFigures {
  round: number;
  planned: number;
  sent: number;
  acked: number;
  refused: number;
  unknown: number;
  deliveries: number;
  duplicates: number;
  kill: string;
  /** Start to listening; kill to exit; kill to every subscribe settled. */
  timings: string;
}

function planRound(random: () => number, firstMarker: number): RoundPlan {
  const count = 50 + Math.floor(random() * 101);
  const subscribes: Planned[] = [];
  for (let i = 0; i < count; i++) {
    const roll = random();
    const kind: Kind = roll < 0.05 ? 'invalid' : roll < 0.15 ? 'flaky' : 'plain';
    subscribes.push({ n: firstMarker + i, kind, delayMs: 1 + Math.floor(random() * 400) });
  }
  const afterBurst = random() < 0.25;
  return {
    subscribes,
    killAfterAnswers: afterBurst ? null : Math.floor(random() * count),
    lingerMs: Math.floor(random() * 300),
  };
}

function bodyFor(planned: Planned, target: TargetServer): unknown {
  const httpRequest = { url: target.url(planned.kind === 'flaky' ? '/flaky' : '/hook'), method: 'POST', params: { n: String(planned.n) } };
  if (planned.kind === 'invalid') return { httpRequest, config: { executionDelay: planned.delayMs, retry: -1 } };
  if (planned.kind === 'flaky')
    return { httpRequest, config: { executionDelay: planned.delayMs, retry: 1, retryInterval: 1000, retryExponential: false } };
  return { httpRequest, config: { executionDelay: planned.delayMs } };
}

const markerOf = (r: RecordedRequest): number => Number(new URL(r.url, 'http://target').searchParams.get('n'));
const executionOf = (r: RecordedRequest): string =>
  `retry ${String(r.headers['x-kuueri-tasks-retry-count'])} repeat ${String(r.headers['x-kuueri-tasks-repeat-count'])}`;

for (const kind of ['sqlite', 'redis'] as const) {
  describe(`crash loop: SIGKILL ${ROUNDS} times during subscribes and deliveries, same ${kind} store`, () => {
    const seed = attackSeed();
    const random = seededRandom(seed + (kind === 'redis' ? 1 : 0));
    const pool = new ProcessPool();
    let dir: string;
    let redis: RedisServer | null = null;
    let target: TargetServer;
    /** The server process whose deliveries the target is receiving (0-based; ROUNDS is the final one). */
    let generation = 0;
    const deliveries: Delivery[] = [];
    const flakyAnswered = new Set<number>();

    before(async () => {
      dir = makeTempDir(`attack-crash-${kind}`);
      if (kind === 'redis') redis = await startRedisServer();
      target = await TargetServer.start((request) => {
        const n = markerOf(request);
        deliveries.push({ n, execution: executionOf(request), generation, at: Date.now() });
        // A few milliseconds per answer, so some requests are in flight at each kill.
        const delayMs = 2 + (n % 15);
        if (request.url.startsWith('/flaky') && !flakyAnswered.has(n)) {
          flakyAnswered.add(n);
          return { status: 500, delayMs };
        }
        return { status: 200, delayMs };
      });
    });

    after(async () => {
      await pool.killAll();
      await target.close();
      await redis?.close();
      removeDir(dir);
    });

    const env = (): Record<string, string> => ({
      ...PROCESS_ENV,
      ...storeEnv(dir, redis?.url),
      TASKS_QUEUE_LIMIT: String(QUEUE_LIMIT),
      // A short lease on Redis, so the tasks a killed process held come back within two seconds
      // (renewed every third of it, so a busy machine does not make one process send a task twice).
      ...(kind === 'redis' ? { TASKS_LEASE_MS: '2000' } : {}),
    });

    test('every acknowledged task is delivered, no refused one ever is; duplicates reported per round', async (t) => {
      const fates = new Map<number, Fate>();
      const figures: RoundFigures[] = [];
      let creds: Credentials | null = null;
      let nextMarker = 1;
      const startedAt = Date.now();
      const killTimes: number[] = [];
      /** Each process's log lines at warn or above, to explain a failure. */
      const complaints: string[][] = [];
      const complaintsOf = (server: ServerProcess): string[] =>
        server
          .output()
          .split('\n')
          .filter((line) => /"level":(40|50|60)/.test(line))
          .map((line) => line.slice(0, 400));

      for (let round = 0; round < ROUNDS; round++) {
        const plan = planRound(random, nextMarker);
        nextMarker += plan.subscribes.length;
        const where = `seed ${seed}, ${kind}, round ${round}`;
        generation = round;
        const deliveredBefore = deliveries.length;
        const spawnAt = Date.now();
        const server: ServerProcess = pool.track(await spawnServer(env(), dir));
        const listeningMs = Date.now() - spawnAt;
        const client = new ApiClient(server.url);
        creds ??= await client.register();
        const project = creds;

        let answered = 0;
        let sent = 0;
        let killed = false;
        let triggerKill: () => void = () => undefined;
        const killNow = new Promise<void>((resolve) => (triggerKill = resolve));
        if (plan.killAfterAnswers === 0) triggerKill();

        let next = 0;
        const subscriber = async (): Promise<void> => {
          while (!killed && next < plan.subscribes.length) {
            const planned = plan.subscribes[next++]!;
            sent++;
            try {
              const res = await client.subscribe(project, bodyFor(planned, target));
              if (res.status === 201) fates.set(planned.n, { kind: 'acked', id: res.body.id as string, round });
              else fates.set(planned.n, { kind: 'refused', status: res.status, code: String(res.body?.code), round });
              answered++;
              if (plan.killAfterAnswers !== null && answered >= plan.killAfterAnswers) triggerKill();
            } catch {
              fates.set(planned.n, { kind: 'unknown', round }); // cut by the kill: no promise either way
            }
          }
        };
        const burst = Promise.all(Array.from({ length: SUBSCRIBERS }, subscriber));
        if (plan.killAfterAnswers === null) {
          await burst;
          // Wall-clock is the point: the kill lands a random while after the burst, deliveries in flight meanwhile.
          await holdFor(plan.lingerMs, 'the kill lands at a random moment after the burst');
          triggerKill();
        }
        await killNow;
        const killAt = Date.now();
        killTimes[round] = killAt;
        const exit = await server.kill('SIGKILL');
        killed = true;
        complaints[round] = complaintsOf(server);
        const exitMs = Date.now() - killAt;
        // What the dead process wrote before dying still reaches the target, and a busy machine
        // handles it late: count it as this process's before the next one starts.
        await target.waitForClosedConnections({ timeoutMs: 10_000 }).catch((error: Error) => {
          throw new Error(`${where}: the dead process's connections to the target did not close: ${error.message}`);
        });
        await burst;
        const settledMs = Date.now() - killAt;
        assert.equal(exit.signal, 'SIGKILL', where);

        const roundFates = [...fates.values()].filter((f) => f.round === round);
        const count = (k: Fate['kind']): number => roundFates.filter((f) => f.kind === k).length;
        figures.push({
          round,
          planned: plan.subscribes.length,
          sent,
          acked: count('acked'),
          refused: count('refused'),
          unknown: count('unknown'),
          deliveries: deliveries.length - deliveredBefore,
          duplicates: 0,
          kill: plan.killAfterAnswers === null ? `after the burst + ${plan.lingerMs} ms` : `after ${plan.killAfterAnswers} answers`,
          timings: `listening after ${listeningMs} ms, exited ${exitMs} ms after SIGKILL, subscribes settled after ${settledMs} ms`,
        });
      }
      assert.ok(creds, 'registered');
      const project = creds;

      // One last start: everything still owed is delivered.
      generation = ROUNDS;
      const server = pool.track(await spawnServer(env(), dir));
      const client = new ApiClient(server.url);
      const acked = [...fates].filter((e): e is [number, Extract<Fate, { kind: 'acked' }>] => e[1].kind === 'acked');
      const refused = [...fates].filter((e): e is [number, Extract<Fate, { kind: 'refused' }>] => e[1].kind === 'refused');
      const unknown = [...fates].filter(([, f]) => f.kind === 'unknown').map(([n]) => n);
      const delivered = (): Set<number> => new Set(deliveries.map((d) => d.n));
      const missing = (): number[] => acked.map(([n]) => n).filter((n) => !delivered().has(n));
      await waitFor(
        () =>
          `every acknowledged marker to reach the target (seed ${seed}); never delivered: ${missing().length} of ${acked.length}: ${missing().slice(0, 20).join(', ')}`,
        () => missing().length === 0,
        { timeoutMs: 30_000, everyMs: 50 },
      );
      // Everything stored has run (an unknown subscribe may have been stored): the queue is empty.
      await waitForEmptyQueue(client, project, { timeoutMs: 30_000, everyMs: 100 }).catch((error: Error) => {
        throw new Error(`seed ${seed}: ${error.message}`);
      });

      // Every acknowledged task ended COMPLETED.
      const states = await mapPool(acked, 16, async ([n, fate]) => {
        const res = await client.task(project, fate.id);
        return { n, status: res.status, state: res.body.state as string };
      });
      const notCompleted = states.filter((s) => s.status !== 200 || s.state !== 'COMPLETED');
      assert.deepEqual(notCompleted, [], `seed ${seed}: acknowledged tasks not COMPLETED`);

      // No refused marker was ever delivered.
      const deliveredRefused = refused
        .filter(([n]) => delivered().has(n))
        .map(([n, f]) => `${n} (${f.status} ${f.code}, round ${f.round})`);
      assert.deepEqual(deliveredRefused, [], `seed ${seed}: markers refused by the API were delivered`);
      assert.ok(
        refused.some(([, f]) => f.code === 'VALIDATION_FAILED'),
        `seed ${seed}: the plan included invalid subscribes`,
      );

      // Duplicates: an execution (marker + retry/repeat counts) delivered more than once.
      const seen = new Map<string, number[]>();
      /** For each duplicated execution: how long before its process was killed the first copy arrived. */
      const firstCopyLeadMs: number[] = [];
      for (const d of deliveries) {
        const key = `${d.n} ${d.execution}`;
        const generations = seen.get(key) ?? [];
        if (generations.length === 1 && killTimes[generations[0]!] !== undefined) {
          const first = deliveries.find((x) => x.n === d.n && x.execution === d.execution)!;
          firstCopyLeadMs.push(killTimes[first.generation]! - first.at);
        }
        seen.set(key, [...generations, d.generation]);
      }
      firstCopyLeadMs.sort((x, y) => x - y);
      const sameProcess: string[] = [];
      let finalDuplicates = 0;
      for (const [key, generations] of seen) {
        for (let i = 1; i < generations.length; i++) {
          const g = generations[i]!;
          if (generations.slice(0, i).includes(g)) {
            const copies = deliveries
              .filter((d) => `${d.n} ${d.execution}` === key)
              .map((d) => `g${d.generation} at +${d.at - startedAt} ms`);
            sameProcess.push(`${key} twice from process ${g} (${copies.join(', ')})`);
          }
          if (g < ROUNDS) figures[g]!.duplicates++;
          else finalDuplicates++;
        }
      }

      const unknownDelivered = unknown.filter((n) => delivered().has(n)).length;
      const totals = figures.reduce(
        (s, f) => ({ acked: s.acked + f.acked, refused: s.refused + f.refused, unknown: s.unknown + f.unknown }),
        { acked: 0, refused: 0, unknown: 0 },
      );
      t.diagnostic(`seed ${seed} (replay with KUUERI_ATTACK_SEED=${seed}); ${kind}; ${Date.now() - startedAt} ms in all`);
      for (const f of figures) {
        t.diagnostic(
          `round ${f.round}: ${f.planned} planned, ${f.sent} sent, ${f.acked} acked, ${f.refused} refused, ${f.unknown} unknown; ` +
            `kill ${f.kill}; ${f.deliveries} deliveries while it ran, ${f.duplicates} of them duplicates; ${f.timings}`,
        );
      }
      t.diagnostic(`final start: ${finalDuplicates} duplicate deliveries`);
      if (firstCopyLeadMs.length > 0) {
        t.diagnostic(
          `duplicated executions: the first copy reached the target between ${firstCopyLeadMs[0]} and ${firstCopyLeadMs.at(-1)} ms ` +
            `(median ${firstCopyLeadMs[Math.floor(firstCopyLeadMs.length / 2)]}) before SIGKILL (negative: while the kill was under way)`,
        );
      }
      t.diagnostic(
        `totals: ${totals.acked} acked (all delivered), ${totals.refused} refused (${refused.filter(([, f]) => f.code === 'QUEUE_FULL').length} QUEUE_FULL, none delivered), ` +
          `${totals.unknown} unknown (${unknownDelivered} of them were stored and delivered); ${deliveries.length} deliveries`,
      );
      complaints[ROUNDS] = complaintsOf(server);
      if (sameProcess.length > 0) {
        t.diagnostic(`kills at ${killTimes.map((k) => `+${k - startedAt}`).join(', ')} ms`);
        const culprits = new Set(sameProcess.map((line) => Number(/from process (\d+)/.exec(line)![1])));
        for (const g of culprits)
          t.diagnostic(`process ${g} complained:\n${(complaints[g] ?? []).join('\n') || '(nothing at warn or above)'}`);
      }
      assert.deepEqual(sameProcess, [], `seed ${seed}: executions sent twice by one process, with no crash in between`);
      await server.kill('SIGTERM');
    });
  });
}
