/*
 * The built server (`node dist/main.js`, as `npm start` runs it) in its own process, for tests that
 * kill it, restart it, read its log or expect it to refuse to start. `npm test` builds before
 * testing.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type RedisServer, startRedisServer } from './redis-server.js';
import { PROCESS_ENV, type StoreKind, storeEnv } from './server-env.js';
import { makeTempDir, removeDir } from './temp-dir.js';

/** The built entry point. */
export const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  proc: ChildProcess;
  url: string;
  /** Everything it wrote so far, standard output and error. */
  output: () => string;
  exited: Promise<ProcessExit>;
  /** Sends `signal` (SIGKILL unless told) unless it has exited; answers its exit. */
  kill(signal?: NodeJS.Signals): Promise<ProcessExit>;
}

/**
 * Starts the server with `env` (and PATH) in `cwd`; resolves once it logs that it listens.
 * `command` runs it another way (a shell line that execs it, as a README shows).
 */
export function spawnServer(
  env: Record<string, string>,
  cwd: string,
  timeoutMs = 20_000,
  command: readonly [string, ...string[]] = [process.execPath, MAIN],
): Promise<ServerProcess> {
  const proc = spawn(command[0], command.slice(1), {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<ProcessExit>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server did not start in ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)"[^\n]*Kuueri Tasks listening/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({
          proc,
          url: match[1]!,
          output: () => output,
          exited,
          async kill(signal = 'SIGKILL') {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
            return exited;
          },
        });
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (code ${code}, signal ${signal}) before listening:\n${output}`));
    });
  });
}

/** A server process on a store of its own: a SQLite file in its folder, or its own redis-server. */
export interface StoreServer {
  store: StoreKind;
  server: ServerProcess;
  base: URL;
  dir: string;
  alive(): boolean;
  /** Kills the server (SIGKILL), stops its redis-server and removes its folder. */
  close(): Promise<void>;
}

export async function startServerOn(store: StoreKind, env: Record<string, string> = {}): Promise<StoreServer> {
  const dir = makeTempDir(`server-${store}`);
  let redis: RedisServer | null = null;
  try {
    redis = store === 'redis' ? await startRedisServer() : null;
    const server = await spawnServer({ ...PROCESS_ENV, ...storeEnv(dir, redis?.url), ...env }, dir);
    return {
      store,
      server,
      base: new URL(server.url),
      dir,
      alive: () => server.proc.exitCode === null && server.proc.signalCode === null,
      async close() {
        await server.kill('SIGKILL');
        await redis?.close();
        removeDir(dir);
      },
    };
  } catch (error) {
    await redis?.close();
    removeDir(dir);
    throw error;
  }
}

/** Every server a test file started, so `after` can SIGKILL whatever is still alive. */
export class ProcessPool {
  private readonly procs: ServerProcess[] = [];

  track(server: ServerProcess): ServerProcess {
    this.procs.push(server);
    return server;
  }

  async killAll(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.kill('SIGKILL')));
  }
}

export interface RefusedStart extends ProcessExit {
  stdout: string;
  stderr: string;
  /** It did not stop within the timeout and was killed. */
  timedOut: boolean;
  /** It started listening (and was killed at once). */
  listened: boolean;
}

/**
 * Runs `node dist/main.js` expecting it to stop on its own (bad configuration, lock held). Should it
 * start listening instead, it is SIGKILLed at once; should it hang, after `timeoutMs`.
 */
export function runToExit(env: Record<string, string>, cwd: string, timeoutMs = 15_000): Promise<RefusedStart> {
  const proc = spawn(process.execPath, [MAIN], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let listened = false;
  proc.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (!listened && /Kuueri Tasks listening/.test(stdout)) {
      listened = true;
      proc.kill('SIGKILL');
    }
  });
  proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill('SIGKILL');
  }, timeoutMs);
  return new Promise((resolve) => {
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut, listened });
    });
  });
}

/** The JSON lines a server wrote, parsed (other lines, and one cut by SIGKILL, skipped). */
export function logLines(output: string): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // A line cut by SIGKILL: skip.
    }
  }
  return lines;
}
