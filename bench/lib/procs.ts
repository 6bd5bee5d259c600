/*
 * Every process the bench starts goes through here, so that all of them are stopped at the end, on
 * failure and on SIGINT/SIGTERM (no orphans). Forked helpers (target, load generator, ceilings,
 * BullMQ worker) talk to the orchestrator over IPC and also exit by themselves when it goes away.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { memoryOf as processMemory } from '../../test/helpers/process-memory.js';
import type { Message, Protocol } from './child.js';

const children = new Set<ChildProcess>();
const cleanups = new Set<() => void>();

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export function track<T extends ChildProcess>(proc: T): T {
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  return proc;
}

/** Registers a synchronous last-resort cleanup (e.g. a redis-server started by a helper); returns its remover. */
export function onCleanup(fn: () => void): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

export function killAllSync(): void {
  for (const proc of children) {
    try {
      proc.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
  for (const fn of cleanups) {
    try {
      fn();
    } catch {
      // best effort
    }
  }
  cleanups.clear();
}

export function liveChildren(): number[] {
  return [...children].map((p) => p.pid ?? -1);
}

let installed = false;
/**
 * Stops every child on exit, on SIGINT/SIGTERM/SIGHUP, and when the bench's parent goes away
 * (e.g. `npm run bench` killed on its own: the bench is then re-parented, and notices within 1 s).
 */
export function installExitHandlers(): void {
  if (installed) return;
  installed = true;
  process.once('exit', killAllSync);
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid === parent) return;
    process.stderr.write('\nbench: its parent process went away; stopping every process the bench started\n');
    killAllSync();
    process.exit(130);
  }, 1_000).unref();
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping every process the bench started\n`);
      killAllSync();
      process.exit(130);
    });
  }
}

function alive(proc: ChildProcess): boolean {
  return proc.exitCode === null && proc.signalCode === null;
}

/** SIGTERM (or `signal`), then SIGKILL after `graceMs`; resolves when the process has exited. */
export async function stopProcess(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<void> {
  if (!alive(proc)) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  if (!alive(proc)) return;
  proc.kill(signal);
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A forked helper process that answers typed commands (see child.ts). */
export class ChildRpc<P extends Protocol> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private exitError: Error | null = null;

  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
    readonly info: Record<string, unknown>,
  ) {
    proc.on('message', (raw: unknown) => {
      const msg = raw as Message;
      if (msg.type !== 'reply') return;
      const waiter = this.pending.get(msg.id);
      if (!waiter) return;
      this.pending.delete(msg.id);
      clearTimeout(waiter.timer);
      if (msg.ok) waiter.resolve(msg.result);
      else waiter.reject(new Error(`${this.name}: ${msg.error}`));
    });
    proc.once('exit', (code, signal) => {
      this.exitError = new Error(`${name} exited (code ${code}, signal ${signal})`);
      for (const waiter of this.pending.values()) {
        clearTimeout(waiter.timer);
        waiter.reject(this.exitError);
      }
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  static async fork<P extends Protocol>(
    name: string,
    file: string,
    env: Record<string, string> = {},
    timeoutMs = 30_000,
  ): Promise<ChildRpc<P>> {
    const proc = track(
      fork(file, [], {
        cwd: REPO,
        execArgv: ['--import', 'tsx'],
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: { ...process.env, ...env },
      }),
    );
    const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`${name} did not start in ${timeoutMs} ms`));
      }, timeoutMs);
      proc.on('message', (raw: unknown) => {
        const msg = raw as Message;
        if (msg.type === 'ready') {
          clearTimeout(timer);
          resolve(msg.info);
        }
      });
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (code ${code}, signal ${signal}) before it was ready`));
      });
    });
    return new ChildRpc<P>(name, proc, info);
  }

  call<K extends keyof P & string>(cmd: K, args: P[K]['args'], timeoutMs = 120_000): Promise<P[K]['result']> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    return new Promise<P[K]['result']>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${cmd} did not answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: (v) => resolve(v), reject, timer });
      this.proc.send({ type: 'call', id, cmd, args } satisfies Message);
    });
  }

  async close(): Promise<void> {
    if (this.proc.connected) this.proc.disconnect();
    await stopProcess(this.proc, 'SIGTERM', 3_000);
  }
}

/** The Kuueri Tasks server as `npm start` runs it (`node dist/main.js`), in its own process. */
export interface ServerProcess {
  proc: ChildProcess;
  pid: number;
  url: string;
  /** Date.now() just before the spawn: profile times count from about then. */
  spawnedAt: number;
  /** The --cpu-prof file it writes on exit, when profiling. */
  profileFile?: string;
  output(): string;
  /** Graceful stop (SIGTERM: finishes in flight, writes a --cpu-prof profile), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export async function spawnKuueri(
  env: Record<string, string>,
  cwd: string,
  nodeArgs: string[] = [],
  timeoutMs = 60_000,
): Promise<ServerProcess> {
  const spawnedAt = Date.now();
  const proc = track(
    spawn(process.execPath, [...nodeArgs, MAIN], {
      cwd,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let output = '';
  const keep = (chunk: Buffer): void => {
    output += chunk.toString();
    if (output.length > 64_000) output = output.slice(-32_000);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server did not start in ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (): void => {
      const match = /"url":"(http:\/\/[^"]+)"[^\n]*Kuueri Tasks listening/.exec(output);
      if (match) {
        clearTimeout(timer);
        proc.stdout.off('data', onData);
        resolve(match[1]!);
      }
    };
    proc.stdout.on('data', onData);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited (code ${code}, signal ${signal}) before listening:\n${output}`));
    });
  });
  return {
    proc,
    pid: proc.pid ?? -1,
    url,
    spawnedAt,
    output: () => output,
    stop: (graceMs = 15_000) => stopProcess(proc, 'SIGTERM', graceMs),
  };
}

/**
 * A fingerprint of the built server (a hash of every file under dist/: path and content). Each
 * server start records it, so a bench during which someone rebuilt dist/ with other code says so
 * instead of mixing builds silently; the same code gives the same fingerprint in every bench.
 */
export function distFingerprint(): string {
  const root = join(REPO, 'dist');
  const hash = createHash('sha1');
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (!name.endsWith('.tsbuildinfo') && !name.endsWith('.map'))
        hash.update(`${path.slice(root.length)}\0`).update(readFileSync(path));
    }
  };
  try {
    walk(root);
  } catch {
    return 'missing';
  }
  return hash.digest('hex').slice(0, 12);
}

const MB = 1024 * 1024;

/** Resident set size and its peak, in MB, from /proc (Linux); NaN where it cannot be read. */
export function memoryOf(pid: number): { rssMb: number; peakRssMb: number } {
  const memory = processMemory(pid);
  return memory ? { rssMb: memory.rss / MB, peakRssMb: memory.peak / MB } : { rssMb: NaN, peakRssMb: NaN };
}

/** The fields of a /proc stat file from state (field 3) on: the command name before it may hold spaces. */
function statFields(path: string): string[] {
  const stat = readFileSync(path, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; or one of its
 * threads, from /proc/<pid>/task/<thread>/stat (a process's main thread has the process's id).
 */
export function cpuSecondsOf(pid: number, thread?: number): number {
  try {
    const rest = statFields(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`);
    return (Number(rest[11]) + Number(rest[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

/** CPU seconds of a process's children that have exited and been reaped (cutime + cstime). */
export function childrenCpuSecondsOf(pid: number): number {
  try {
    const rest = statFields(`/proc/${pid}/stat`);
    return (Number(rest[13]) + Number(rest[14])) / 100;
  } catch {
    return NaN;
  }
}

/**
 * How a window went for each process's main thread, from /proc/<pid>/task/<pid>/schedstat: seconds
 * on a CPU and seconds runnable but waiting for one (the kernel's run-queue wait); and for the
 * machine, its idle cores (/proc/stat). On two cores shared by the dispatcher, Redis and the target,
 * a dispatcher's rate is its main thread's CPU per delivery and the share of a core it gets.
 */
export interface Scheduling {
  /** Per process: main-thread seconds on a CPU and waiting for one. */
  main: Record<string, { onCpuS: number; waitS: number }>;
  /** Cores idle on average over the window (0 to the machine's count). */
  idleCores: number;
}

function schedstat(pid: number): { onCpuS: number; waitS: number } | null {
  try {
    const [onCpu, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ');
    return { onCpuS: Number(onCpu) / 1e9, waitS: Number(wait) / 1e9 };
  } catch {
    return null; // a kernel without schedstats, or the process is gone
  }
}

/** Idle + iowait ticks of all CPUs, and the time they were read. */
function idleTicks(): { ticks: number; at: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
  return { ticks: Number(cpu[4]) + Number(cpu[5]), at: performance.now() };
}

/** Scheduling of `pids`' main threads and the machine's idle cores from now to the call of the returned function. */
export function schedulingMeter(pids: Record<string, number>): () => Scheduling {
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, schedstat(pid)]));
  const idle = idleTicks();
  return () => {
    const main: Scheduling['main'] = {};
    for (const [k, pid] of Object.entries(pids)) {
      const a = before[k];
      const b = schedstat(pid);
      if (a && b) main[k] = { onCpuS: round2(b.onCpuS - a.onCpuS), waitS: round2(b.waitS - a.waitS) };
    }
    const now = idleTicks();
    const idleCores = round2((now.ticks - idle.ticks) / 100 / Math.max(0.001, (now.at - idle.at) / 1000));
    return { main, idleCores };
  };
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** The main threads' scheduling for a log line: "main threads on CPU/waiting s: server 1.85/0.62, …; 0.41 cores idle". */
export function describeScheduling(s: Scheduling): string {
  const parts = Object.entries(s.main).map(([k, t]) => `${k} ${t.onCpuS.toFixed(2)}/${t.waitS.toFixed(2)}`);
  return ` | main threads on CPU/waiting s: ${parts.join(', ')}; ${s.idleCores.toFixed(2)} cores idle`;
}

/** A process, or one thread of it (`{ pid, thread: pid }` is its main thread). */
export type CpuSource = number | { pid: number; thread: number };

/** CPU seconds used by each of `sources` between start() and the call of the returned function. */
export function cpuMeter(sources: Record<string, CpuSource>): () => Record<string, number> {
  const read = (source: CpuSource): number => (typeof source === 'number' ? cpuSecondsOf(source) : cpuSecondsOf(source.pid, source.thread));
  const before = Object.fromEntries(Object.entries(sources).map(([k, source]) => [k, read(source)]));
  return () => Object.fromEntries(Object.entries(sources).map(([k, source]) => [k, round2(read(source) - before[k]!)]));
}
