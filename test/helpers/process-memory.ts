import { readFileSync } from 'node:fs';

/**
 * Resident set size and its peak, in bytes, of a process, from /proc/<pid>/status (Linux); null
 * where /proc is missing or the process is gone. Used by tests that bound a server's memory and by
 * the bench.
 */
export function memoryOf(pid: number): { rss: number; peak: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    const rss = kb('VmRSS');
    const peak = kb('VmHWM');
    return Number.isFinite(rss) && Number.isFinite(peak) ? { rss, peak } : null;
  } catch {
    return null;
  }
}
