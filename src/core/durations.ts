/*
 * Durations arrive as integer milliseconds or as strings such as "500ms", "10s", "5m", "1h", "2d"
 * (a plain digit string is milliseconds). Anything else is refused with a message that says which
 * forms are accepted.
 */

import { remembered } from './remembered.js';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION_PATTERN = /^(\d{1,15}(?:\.\d{1,6})?)(ms|s|m|h|d)?$/;

export type DurationResult = { ok: true; ms: number } | { ok: false; message: string };

export const DURATION_HINT = 'must be integer milliseconds or a duration string such as "500ms", "10s", "5m", "1h", "2d"';

/** A string's duration (frozen: shared), kept for the last strings seen: a batch's items mostly give the same few ("1h", "10s"). */
const parsedText = remembered((value: string): DurationResult => Object.freeze(parseText(value)), 1_000);

function parseText(value: string): DurationResult {
  const match = DURATION_PATTERN.exec(value);
  if (!match) return { ok: false, message: DURATION_HINT };
  const [whole, fraction = ''] = match[1]!.split('.');
  const unit = UNIT_MS[(match[2] ?? 'ms') as keyof typeof UNIT_MS];
  // Integer arithmetic: "1.001s" is exactly 1001 ms, which floating point would miss.
  const scale = 10 ** fraction.length;
  const fractionMs = Number(fraction || '0') * unit;
  if (fractionMs % scale !== 0) {
    return { ok: false, message: `${DURATION_HINT}, and a whole number of milliseconds` };
  }
  const ms = Number(whole) * unit + fractionMs / scale;
  if (!Number.isSafeInteger(ms)) return { ok: false, message: `${DURATION_HINT}, and at most ${Number.MAX_SAFE_INTEGER} ms` };
  return { ok: true, ms };
}

export function parseDuration(value: unknown): DurationResult {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0 || Object.is(value, -0)) return { ok: false, message: DURATION_HINT };
    return { ok: true, ms: value };
  }
  if (typeof value !== 'string') return { ok: false, message: DURATION_HINT };
  return parsedText(value);
}

/** "1500" -> "1.5s": for timeline descriptions. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${ms}ms`;
  if (ms < 60_000) return `${trim(ms / 1_000)}s`;
  if (ms < 3_600_000) return `${trim(ms / 60_000)}m`;
  if (ms < 86_400_000) return `${trim(ms / 3_600_000)}h`;
  return `${trim(ms / 86_400_000)}d`;
}

function trim(n: number): string {
  return String(Math.round(n * 100) / 100);
}
