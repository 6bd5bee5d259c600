/*
 * The attempt log: one record per attempt of a task (its number, start, duration, the status or the
 * kind of failure, and the first ATTEMPT_LOG.excerptBytes of the answer). The dispatcher makes the
 * record and the store writes it with the outcome it belongs to (TaskStore.replaceTask), so it
 * costs no write of its own. Stores keep a task's latest ATTEMPT_LOG.maxEntries records (limits.ts)
 * and delete them with the task. The excerpt is sealed like the request (RequestCipher.sealBytes,
 * bound to the task and the attempt's number) and opened only when the log is read.
 *
 * `GET /v1beta/queues/:id/attempts` answers pages newest first; a cursor is the number the next
 * page starts below, as opaque text (timeline.ts encodeCursor).
 */
import { ATTEMPT_LOG } from './limits.js';
import type { AttemptView } from './shapes.js';
import { cursorPageQuery } from './timeline.js';

/** Why an attempt got no answer, as a class a client can act on (the text is on the timeline). */
export const ERROR_CLASSES = ['timeout', 'connection', 'dns', 'protocol', 'refused', 'aborted', 'unreadable', 'other'] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

/** One attempt as a store keeps it. */
export interface AttemptRecord {
  /** 1 for the task's first attempt; each attempt one more. */
  number: number;
  startedAt: number;
  durationMs: number;
  /** The status the target answered, 0 when it did not. */
  statusCode: number;
  /** Why there was no answer; null when there was one. */
  errorClass: ErrorClass | null;
  /** The first bytes of the answer, sealed (sealExcerpt); null when there were none. */
  excerpt: Uint8Array | null;
}

/** The additional data an excerpt is sealed with: an excerpt moved to another task or attempt does not open. */
export function excerptAad(taskId: string, number: number): string {
  return `attempt:${taskId}:${number}`;
}

/** Where a page of the log starts (below the number `before`; null: the newest) and how long it is. */
export interface AttemptPageQuery {
  limit: number;
  before: number | null;
}

/** The attempt log's `limit` and `cursor` query parameters, checked (timeline.ts cursorPageQuery). */
export function attemptPageQuery(query: { limit?: string; cursor?: string }): AttemptPageQuery {
  const { limit, position } = cursorPageQuery(query, ATTEMPT_LOG.pageMax);
  return { limit, before: position };
}

/** A record as the API answers it, its excerpt opened (`cipher`: the one that sealed it, RequestCipher). */
export function attemptViewOf(record: AttemptRecord, taskId: string, cipher: ExcerptOpener): AttemptView {
  const bytes = record.excerpt === null ? null : cipher.openBytes(record.excerpt, excerptAad(taskId, record.number));
  return {
    attempt: record.number,
    startedAt: record.startedAt,
    durationMs: record.durationMs,
    statusCode: record.statusCode,
    errorClass: record.errorClass,
    ...excerptText(bytes),
  };
}

/** What opens a sealed excerpt (RequestCipher has it). */
export interface ExcerptOpener {
  openBytes(sealed: Uint8Array, aad: string): Uint8Array;
}

/** The answer an excerpt's bytes make: text when they are UTF-8 (a cut character at the end aside), else base64. */
export function excerptText(bytes: Uint8Array | null): Pick<AttemptView, 'response' | 'responseEncoding'> {
  if (bytes === null || bytes.length === 0) return { response: '', responseEncoding: 'utf8' };
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(trimCutCharacter(buffer));
    return { response: text, responseEncoding: 'utf8' };
  } catch {
    return { response: buffer.toString('base64'), responseEncoding: 'base64' };
  }
}

/** The bytes without a UTF-8 sequence the excerpt's cut left unfinished at the end. */
function trimCutCharacter(bytes: Buffer): Buffer {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back]!;
    if ((byte & 0xc0) !== 0x80) {
      const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
      return need > back ? bytes.subarray(0, bytes.length - back) : bytes;
    }
  }
  return bytes;
}
