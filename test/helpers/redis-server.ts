/*
 * A real redis-server started for a test on a free loopback port, in its own temporary folder, and
 * stopped (or restarted, on the same port and data) by the test. .ci/run installs redis-server on
 * machines that lack it; a missing binary fails loudly rather than skipping.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { makeTempDir, removeDir } from './temp-dir.js';
import { waitFor } from './wait.js';

export interface RedisServer {
  url: string;
  port: number;
  /** Stops the server (SHUTDOWN NOSAVE, or SIGKILL with `kill: true`). */
  stop(options?: { kill?: boolean }): Promise<void>;
  /** Starts it again on the same port and folder (data kept when persistence was on). */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  close(): Promise<void>;
  /** Kills it at once, for process exit handlers that cannot wait. */
  killSync(): void;
  /** What redis-server logged so far, across restarts. */
  log(): string;
}

export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

/** Resolves once a fresh connection to `url` answers PING; rejects with the last error after `timeoutMs`. */
async function waitForPing(url: string, timeoutMs: number): Promise<void> {
  let last = '';
  await waitFor(
    () => `redis-server at ${url} to answer PING (${last})`,
    async () => {
      const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.ping();
        return true;
      } catch (error) {
        last = (error as Error).message;
        return false;
      } finally {
        client.disconnect();
      }
    },
    { timeoutMs },
  );
}

/**
 * With `configFile`, the file is used as it is, with only the port and the data folder overridden
 * (what an operator runs); the log goes to `redis.log` in the folder through redis-server's standard
 * output. Without it, a bare server with persistence off unless `persistence` is set.
 */
export async function startRedisServer(
  options: { persistence?: boolean; args?: string[]; configFile?: string; pingUrl?: (port: number) => string } = {},
): Promise<RedisServer> {
  const dir = makeTempDir('redis');
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const logFile = join(dir, 'redis.log');
  let proc: ChildProcess | null = null;

  const start = async (): Promise<void> => {
    const args = options.configFile
      ? [options.configFile, '--port', String(port), '--dir', dir]
      : [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--dir',
          dir,
          '--daemonize',
          'no',
          ...(options.persistence ? ['--appendonly', 'yes', '--appendfsync', 'everysec'] : ['--save', '', '--appendonly', 'no']),
        ];
    const log = openSync(logFile, 'a');
    try {
      proc = spawn('redis-server', [...args, ...(options.args ?? [])], { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    proc.unref();
    await waitForPing(options.pingUrl?.(port) ?? url, 10_000);
  };

  const stop = async (stopOptions: { kill?: boolean } = {}): Promise<void> => {
    const current = proc;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    // The child is unref'd so a forgotten server cannot hold a test process open; waiting for its exit must.
    current.ref();
    const exited = new Promise<void>((resolve) => current.once('exit', () => resolve()));
    current.kill(stopOptions.kill ? 'SIGKILL' : 'SIGTERM');
    await exited;
    proc = null;
  };

  await start();
  return {
    url,
    port,
    stop,
    start,
    async close() {
      await stop({ kill: true });
      removeDir(dir);
    },
    killSync() {
      proc?.kill('SIGKILL');
      removeDir(dir);
    },
    log: () => readFileSync(logFile, 'utf8'),
  };
}
