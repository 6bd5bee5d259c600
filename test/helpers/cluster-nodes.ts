/*
 * Several real server processes (`node dist/main.js`) sharing one Redis, as a cluster behind a load
 * balancer would run, each with a client of its own.
 */
import { ApiClient } from './api-client.js';
import { PROCESS_ENV, TEST_CRYPTO_KEY } from './server-env.js';
import { type ServerProcess, spawnServer } from './server-process.js';
import { makeTempDir, removeDir } from './temp-dir.js';
import { type WaitOptions, waitFor } from './wait.js';

/** The settings of every node: the shared Redis, higher limits for thousands of tasks, a short lease. */
export function clusterEnv(redisUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...PROCESS_ENV,
    TASKS_DB: redisUrl,
    TASKS_CRYPTO_KEY: TEST_CRYPTO_KEY,
    TASKS_THROTTLE_LIMIT: '100000000',
    TASKS_REGISTER_LIMIT: '100000',
    TASKS_QUEUE_LIMIT: '1000000',
    TASKS_LEASE_MS: '3000',
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
  const dir = makeTempDir('cluster');
  const processes = await Promise.all(Array.from({ length: count }, () => spawnServer(env, dir)));
  return processes.map((p) => ({ process: p, client: new ApiClient(p.url), dir }));
}

/** The nodes whose process still runs. */
export function aliveNodes(nodes: readonly Node[]): Node[] {
  return nodes.filter((n) => n.process.proc.exitCode === null && n.process.proc.signalCode === null);
}

/** Kills every node (SIGKILL: nothing is left to drain) and removes their working folders. */
export async function killNodes(nodes: readonly Node[] | undefined): Promise<void> {
  await Promise.all((nodes ?? []).map((n) => n.process.kill('SIGKILL')));
  for (const dir of new Set((nodes ?? []).map((n) => n.dir))) removeDir(dir);
}

/** Waits until every task of `ids` has reached the target; `deliveries` counts the requests the target received per task id. */
export async function waitForDeliveries(
  ids: readonly string[],
  deliveries: ReadonlyMap<string, number>,
  options?: WaitOptions,
): Promise<void> {
  await waitFor(
    () => `every task to be delivered (${ids.filter((id) => deliveries.has(id)).length} of ${ids.length} so far)`,
    () => ids.every((id) => deliveries.has(id)),
    options,
  );
}
