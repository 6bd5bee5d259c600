import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { type RunningServer, type ServerOverrides, startServer } from '../../src/server.js';
import { ApiClient } from './api-client.js';

/**
 * The real server (API + dispatcher + SQLite file in a temporary folder) started in this process on
 * a free port. Targets on 127.0.0.0/8 are allowed explicitly, as the guard refuses them by default.
 */
export interface TestServer {
  server: RunningServer;
  client: ApiClient;
  url: string;
  dir: string;
  close(): Promise<void>;
}

export const TEST_ENV: Record<string, string> = {
  PORT: '0',
  HOST: '127.0.0.1',
  TASKS_ALLOW_TARGETS: '127.0.0.0/8',
  TASKS_THROTTLE_LIMIT: '1000000',
  TASKS_REGISTER_LIMIT: '1000000',
  TASKS_LOG_LEVEL: 'silent',
  TASKS_SHUTDOWN_GRACE_MS: '2000',
};

export async function startTestServer(
  options: { env?: Record<string, string>; overrides?: ServerOverrides; dir?: string } = {},
): Promise<TestServer> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'kuueri-test-'));
  const env = { TASKS_DB: `sqlite:${join(dir, 'tasks.db')}`, ...TEST_ENV, ...options.env };
  const config = loadConfig(env, dir);
  const logger = createLogger(config.logLevel);
  const server = await startServer(config, logger, options.overrides);
  return {
    server,
    client: new ApiClient(server.url),
    url: server.url,
    dir,
    async close() {
      await server.close();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
