/*
 * Fills a store with pending tasks directly, through the project's own code: the same steps as
 * POST /v1beta/subscribe minus HTTP (resolveSubscription, newId, createTask, the request sealed
 * with the server's key) and the store class's own insertTask, so the rows are those the API would
 * write. Used by the scale scenario (1,000,000 tasks through the API would take many minutes).
 *
 *   node --import tsx bench/fill-store.ts --db sqlite:/tmp/x/tasks.db --count 1000000 \
 *     --key <TASKS_CRYPTO_KEY> --target http://127.0.0.1:9 [--batch 500]
 *
 * Creates one project and prints {"projectId", "token", "inserted", "ms"} as the last line. Tasks
 * are due from 7 days ahead on, 50 ms apart. `--batch n` (default 500): inserts in flight at once.
 *
 * `--mix` (the listing scenario): MIX.projects projects in turn, each task with one or two of
 * MIX.tags tags, one of MIX.hosts target hosts, and a state: most RUNNING, some PAUSED, COMPLETED
 * or CANCELED (written as such, as the state machine leaves them). Prints also "projects": every
 * project's {id, token}.
 */
import { performance } from 'node:perf_hooks';
import { createRequestCipher, deriveKey } from '../src/core/sealed-request.js';
import { resolveSubscription, type SubscribeBody } from '../src/core/subscription.js';
import { createTargetPolicy, parseTargetList } from '../src/core/target-policy.js';
import { createTask, pauseTask, unsubscribeTask } from '../src/core/task-machine.js';
import type { Task } from '../src/core/task.js';
import { newId } from '../src/core/ids.js';
import { hashToken, newToken } from '../src/core/tokens.js';
import { RedisStore } from '../src/store/redis/redis-store.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { TaskStore } from '../src/store/task-store.js';
import { subscribeBody } from './lib/bodies.js';

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const value = i === -1 ? fallback : process.argv[i + 1];
  if (value === undefined) throw new Error(`missing --${name}`);
  return value;
}

const db = arg('db');
const count = Number(arg('count'));
const key = arg('key');
const target = arg('target', 'http://127.0.0.1:9');
const batchSize = Math.max(1, Number(arg('batch', '500')));
const mix = process.argv.includes('--mix');

/** What a --mix fill spreads its tasks over. */
const MIX = { projects: 4, tags: ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta'], hosts: 8 } as const;

/** Task i of a --mix fill, in the state it gets (1 in 10 PAUSED, 1 in 5 COMPLETED, 1 in 20 CANCELED). */
function mixState(task: Task, i: number, now: number): Task {
  const r = i % 20;
  if (r < 2) return pauseTask(task, now).task;
  if (r < 6) return { ...task, state: 'COMPLETED', statusCode: 200, execAt: 0, endAt: now, attempts: 1 };
  if (r < 7) return unsubscribeTask(task, now).task;
  return task;
}
const LIMIT = 100_000_000;

async function main(): Promise<void> {
  const store: TaskStore = db.startsWith('sqlite:')
    ? new SqliteStore({ path: db.slice('sqlite:'.length) })
    : await RedisStore.connect({ url: db, retentionSeconds: 259_200 });
  const cipher = createRequestCipher(deriveKey(key));
  const policy = createTargetPolicy(parseTargetList(['127.0.0.0/8']));
  try {
    const bound = await store.bindKeyId(cipher.keyId);
    if (bound !== cipher.keyId) throw new Error('the store is bound to another key');
    const now = Date.now();
    const projects: { id: string; token: string }[] = [];
    for (let p = 0; p < (mix ? MIX.projects : 1); p++) {
      const token = newToken();
      const id = newId(now);
      await store.insertProject({
        id,
        email: `bench-fill-${id.toLowerCase()}@example.com`,
        tokenHash: hashToken(token),
        createdAt: now,
        as: 'DEV',
      });
      projects.push({ id, token });
    }
    const { id: projectId, token } = projects[0]!;

    const start = now + 7 * 86_400_000;
    const insert = (i: number): Promise<void> => {
      const t = Date.now();
      const due = start + i * 50;
      // Task j of its project (tasks go to the projects in turn): each project gets every tag, host and state.
      const j = Math.floor(i / MIX.projects);
      const url = mix ? target.replace('127.0.0.1', `host${j % MIX.hosts}.bench.test`) : target;
      const body = JSON.parse(
        subscribeBody({ target: url, executionAt: due, params: { due: String(due), i: String(i) } }),
      ) as SubscribeBody;
      const resolved = resolveSubscription(body, t, policy);
      const id = newId(t);
      if (!mix) {
        const task = createTask({ id, projectId, config: resolved.config, request: cipher.seal(resolved.request, id) }, t);
        return store.insertTask(task, [], LIMIT).then(() => undefined);
      }
      const tags = [MIX.tags[j % MIX.tags.length]!, ...(j % 3 === 0 ? [MIX.tags[(j + 3) % MIX.tags.length]!] : [])];
      const hostTag = cipher.hostTag(new URL(resolved.request.url).hostname);
      const project = projects[i % projects.length]!.id;
      const task = createTask(
        { id, projectId: project, config: resolved.config, request: cipher.seal(resolved.request, id), hostTag, tags },
        t,
      );
      return store.insertTask(mixState(task, j, t), [], LIMIT).then(() => undefined);
    };

    const t0 = performance.now();
    let lastReport = t0;
    const report = (done: number): void => {
      const t = performance.now();
      if (t - lastReport < 5_000) return;
      lastReport = t;
      process.stderr.write(`  fill: ${done}/${count} (${Math.round(done / ((t - t0) / 1000))}/s)\n`);
    };
    // Public API only: `batch` inserts in flight at once (the SQLite store groups the writes of one
    // event-loop turn in one transaction by itself; on Redis they are pipelined on the connection).
    for (let i = 0; i < count; i += batchSize) {
      const pending: Promise<void>[] = [];
      for (let j = i; j < Math.min(count, i + batchSize); j++) pending.push(insert(j));
      await Promise.all(pending);
      report(Math.min(count, i + batchSize));
    }
    const ms = performance.now() - t0;
    process.stdout.write(`${JSON.stringify({ projectId, token, projects, inserted: count, ms: Math.round(ms) })}\n`);
  } finally {
    await store.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`fill-store failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
