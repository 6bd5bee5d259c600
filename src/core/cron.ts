/*
 * Cron expressions read with croner: 5 fields (minute first), or 6 (seconds first), in an IANA
 * time zone. Every instant is epoch milliseconds; croner does the calendar and daylight-saving
 * arithmetic (docs/architecture.md "Schedules" says what it does at clock changes). Guarded by
 * test/unit/schedule-rules.test.ts.
 */
import { Cron } from 'croner';
import { remembered } from './remembered.js';

/** What is wrong with a cron expression, or null. */
export function cronProblem(expression: string): string | null {
  const fields = expression.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) return 'must have 5 fields (minute hour day month weekday) or 6 (seconds first)';
  try {
    new Cron(expression, { paused: true, mode: '5-or-6-parts' });
    return null;
  } catch (error) {
    return `is not a valid cron expression: ${(error as Error).message}`;
  }
}

/** Whether `zone` is an IANA time zone this runtime knows (`UTC`, `Europe/Berlin`, …). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Parsed expressions are kept: the scheduler asks for the same few many times. */
const cronOf = remembered((key: string): Cron => {
  const space = key.indexOf(' ');
  return new Cron(key.slice(space + 1), { paused: true, mode: '5-or-6-parts', timezone: key.slice(0, space) });
}, 1_000);

/** A cron expression in a time zone; both already checked (cronProblem, isTimeZone). */
export interface CronSpec {
  cron: string;
  timezone: string;
}

const jobOf = (spec: CronSpec): Cron => cronOf(`${spec.timezone} ${spec.cron}`);

/** The first instant of `spec` strictly after `after` (whole seconds), or null when there is none. */
export function instantAfter(spec: CronSpec, after: number): number | null {
  return jobOf(spec).nextRun(new Date(after))?.getTime() ?? null;
}

/** Up to `n` instants of `spec` strictly before `before`, the latest first. */
export function instantsBefore(spec: CronSpec, n: number, before: number): number[] {
  // croner counts a run earlier in the same second as the reference: one second less excludes `before`'s own second.
  const reference = before - 1;
  return jobOf(spec)
    .previousRuns(n, new Date(reference))
    .map((d) => d.getTime())
    .filter((t) => t < before);
}
