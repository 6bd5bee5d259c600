import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../helpers/api-client.js';
import { type ServerProcess, spawnServer } from '../helpers/server-process.js';

/** Several real server processes (`node dist/main.js`) sharing one Redis. */
export const CLUSTER_KEY = 'c'.repeat(64);

export function clusterEnv(redisUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    TASKS_DB: redisUrl,
    TASKS_CRYPTO_KEY: CLUSTER_KEY,
    TASKS_ALLOW_TARGETS: '127.0.0.0/8',
    TASKS_THROTTLE_LIMIT: '100000000',
    TASKS_REGISTER_LIMIT: '100000',
    TASKS_AUTH_FAILURE_LIMIT: '1000000',
    TASKS_QUEUE_LIMIT: '1000000',
    TASKS_LEASE_MS: '3000',
    TASKS_LOG_LEVEL: 'info',
    ...extra,
  };
}

export interface Node {
  process: ServerProcess;
  client: ApiClient;
  /** The working folder the nodes of one `startNodes` share; `killNodes` removes it. */
  dir: string;
}

export async function startNodes(count: number, env: Record<string, string>): Promise<Node[]> {
  const dir = mkdtempSync(join(tmpdir(), 'kuueri-cluster-'));
  const processes = await Promise.all(Array.from({ length: count }, () => spawnServer(env, dir)));
  return processes.map((p) => ({ process: p, client: new ApiClient(p.url), dir }));
}

/** Kills every node (SIGKILL: nothing is left to drain) and removes their working folders. */
export async function killNodes(nodes: readonly Node[] | undefined): Promise<void> {
  await Promise.all((nodes ?? []).map((n) => n.process.kill('SIGKILL')));
  for (const dir of new Set((nodes ?? []).map((n) => n.dir))) rmSync(dir, { recursive: true, force: true });
}

/** Runs `work` for every item with at most `width` at once; results in item order. */
export async function pool<T, R>(items: readonly T[], width: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!, index);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** Resolves when `check()` holds, polling every `everyMs`; rejects with `describe()` after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, describe: () => string, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
