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
 */
import { performance } from 'node:perf_hooks';
import { createRequestCipher, deriveKey } from '../src/core/sealed-request.js';
import { resolveSubscription, type SubscribeBody } from '../src/core/subscription.js';
import { createTargetPolicy, parseTargetList } from '../src/core/target-policy.js';
import { createTask } from '../src/core/task-machine.js';
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
    const token = newToken();
    const projectId = newId(now);
    await store.insertProject({
      id: projectId,
      email: `bench-fill-${projectId.toLowerCase()}@example.com`,
      tokenHash: hashToken(token),
      createdAt: now,
      as: 'DEV',
    });

    const start = now + 7 * 86_400_000;
    const insert = (i: number): Promise<void> => {
      const t = Date.now();
      const due = start + i * 50;
      const body = JSON.parse(subscribeBody({ target, executionAt: due, params: { due: String(due), i: String(i) } })) as SubscribeBody;
      const resolved = resolveSubscription(body, t, policy);
      const id = newId(t);
      const task = createTask({ id, projectId, config: resolved.config, request: cipher.seal(resolved.request, id) }, t);
      return store.insertTask(task, [], LIMIT);
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
    process.stdout.write(`${JSON.stringify({ projectId, token, inserted: count, ms: Math.round(ms) })}\n`);
  } finally {
    await store.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`fill-store failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
