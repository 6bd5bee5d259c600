/*
 * How much of a task's timeline is kept, and how much of it one answer holds.
 *
 * Kept: a timeline never holds more than TIMELINE.maxEntries stored entries. Past that, the first
 * TIMELINE.keepFirst entries stay (how the task began), then one `Omitted` entry that counts what was
 * left out, then the latest entries. Both stores cut it so where they append (test/store/conformance.ts
 * guards it), so a task retried for days costs as much as one retried for minutes, and a read or
 * a delete of its timeline stays small.
 *
 * Answered: `GET /v1beta/queues/:id/timeline` answers pages of up to `limit` entries; the next one
 * starts at an opaque cursor. The default page holds more than any bounded timeline, so a client
 * that knows nothing of pages still gets the whole of it, as before pages existed.
 */
import { type FieldIssue, validationError } from './errors.js';
import type { Task, TimelineEntry, TimelineLabel } from './task.js';
import { timelineOf } from './task-machine.js';

export const TIMELINE = {
  /** Stored entries per task at most, the `Omitted` entry included (the derived `Subscribe` is not stored). */
  maxEntries: 200,
  /** The first stored entries, always kept. */
  keepFirst: 20,
  /** Entries one answer holds at most, and by default: more than a bounded timeline with its `Subscribe`. */
  pageMax: 1000,
} as const;

/** The label of the entry that stands for the entries left out. */
export const OMITTED_LABEL = 'Omitted' satisfies TimelineLabel;

/**
 * The entry that stands for `count` entries left out, the latest of them made at `createdAt`.
 * Stores keep only its count and time (metadata `omitted`); its text is written here, when read.
 */
export function omittedEntry(count: number, createdAt: number): TimelineEntry {
  return {
    label: OMITTED_LABEL,
    description:
      `${count} ${count === 1 ? 'entry was' : 'entries were'} left out here: a timeline keeps its first ` +
      `${TIMELINE.keepFirst} and its latest entries, ${TIMELINE.maxEntries} in all`,
    createdAt,
    metadata: { omitted: count },
  };
}

/** How many entries an `Omitted` entry stands for, as stored in its metadata (0 when it says nothing). */
export function omittedCount(metadata: TimelineEntry['metadata'] | null | undefined): number {
  const count = metadata?.omitted;
  return typeof count === 'number' && Number.isSafeInteger(count) && count > 0 ? count : 0;
}

// ── Pages ────────────────────────────────────────────────────────────────────

/**
 * A cursor is a store's position in a timeline (where the next page starts), as base64url text so
 * that clients pass it back as it is and build nothing on its form.
 */
export function encodeCursor(position: number): string {
  return Buffer.from(`p${position}`).toString('base64url');
}

/** The position a cursor stands for, or null when it is not one this server made. */
export function decodeCursor(cursor: string): number | null {
  if (!/^[A-Za-z0-9_-]{1,24}$/.test(cursor)) return null;
  const match = /^p(0|[1-9][0-9]{0,15})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  const position = match ? Number(match[1]) : NaN;
  return Number.isSafeInteger(position) ? position : null;
}

/**
 * The entries a page answers, from the stored entries it read. The first page starts with the
 * `Subscribe` entry (timelineOf). No later page holds one: a task stored before that entry was
 * derived keeps it as its first stored entry, which a first page of one entry stood in for already.
 */
export function pageEntries(task: Pick<Task, 'startAt' | 'config'>, stored: readonly TimelineEntry[], first: boolean): TimelineEntry[] {
  return first ? timelineOf(task, stored) : stored.filter((e) => e.label !== 'Subscribe');
}

/** A page asked for: `from` is null for the first page (which starts with the derived `Subscribe`). */
export interface TimelinePageQuery {
  limit: number;
  from: number | null;
}

/** A page's `limit` query parameter: `fallback` when absent; an issue in `issues` unless a whole number from 1 to `max`. */
export function pageLimitOf(value: string | undefined, fallback: number, max: number, issues: FieldIssue[]): number {
  if (value === undefined) return fallback;
  const limit = /^[0-9]{1,6}$/.test(value) ? Number(value) : NaN;
  if (!(limit >= 1 && limit <= max)) issues.push({ field: 'querystring.limit', message: `must be a whole number from 1 to ${max}` });
  return limit;
}

/**
 * A paged route's `limit` (1 to `max`, `max` when absent) and `cursor` (the position it stands for,
 * null when absent) query parameters, checked; every problem at once as VALIDATION_FAILED.
 */
export function cursorPageQuery(query: { limit?: string; cursor?: string }, max: number): { limit: number; position: number | null } {
  const issues: FieldIssue[] = [];
  const limit = pageLimitOf(query.limit, max, max, issues);
  const position = query.cursor === undefined ? null : decodeCursor(query.cursor);
  if (query.cursor !== undefined && position === null) {
    issues.push({ field: 'querystring.cursor', message: 'must be a cursor as a previous page gave it (its Link header)' });
  }
  if (issues.length > 0) throw validationError(issues);
  return { limit, position };
}

/** The timeline's `limit` and `cursor` query parameters, checked. */
export function timelinePageQuery(query: { limit?: string; cursor?: string }): TimelinePageQuery {
  const { limit, position } = cursorPageQuery(query, TIMELINE.pageMax);
  return { limit, from: position };
}
