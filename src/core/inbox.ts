import type { RequestCipher } from './sealed-request.js';
import type { InboxRequestView } from './shapes.js';

/*
 * The inbox: a URL on this server (`/inbox/<project id>`) that keeps the last requests it received,
 * so a task can be tried without a target of one's own. What it received is sealed like a task's
 * request (it may carry the same secrets), bound to the project and the record's id.
 */

export const INBOX = {
  /** Requests kept per project; the oldest go first. */
  keep: 100,
  /** Bytes of a body kept; the rest is dropped and the request marked `truncated`. */
  bodyCap: 64 * 1024,
} as const;

/** The path of a project's inbox on this server. */
export const inboxPath = (projectId: string): string => `/inbox/${projectId}`;

/** A request as the inbox received it, its body already cut to INBOX.bodyCap. */
export interface ReceivedRequest {
  receivedAt: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  truncated: boolean;
}

/** The stored plaintext: the request with its body as base64. */
interface StoredForm extends Omit<ReceivedRequest, 'body'> {
  body: string;
}

const aadOf = (projectId: string, id: string): string => `inbox:${projectId}:${id}`;

export function sealReceived(cipher: RequestCipher, projectId: string, id: string, request: ReceivedRequest): Buffer {
  const stored: StoredForm = { ...request, body: request.body.toString('base64') };
  return cipher.sealBytes(Buffer.from(JSON.stringify(stored), 'utf8'), aadOf(projectId, id));
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The view of a stored record; throws when it does not open or is not of the stored form. */
export function openReceived(cipher: RequestCipher, projectId: string, id: string, sealed: Uint8Array): InboxRequestView {
  const value = JSON.parse(cipher.openBytes(sealed, aadOf(projectId, id)).toString('utf8')) as unknown;
  const stored = parseStored(value);
  const body = Buffer.from(stored.body, 'base64');
  let text: string | null = null;
  try {
    text = utf8.decode(body);
  } catch {
    // Not UTF-8 (or cut inside a character): answered as base64.
  }
  return {
    id,
    receivedAt: stored.receivedAt,
    method: stored.method,
    path: stored.path,
    headers: stored.headers,
    body: text ?? stored.body,
    bodyEncoding: text === null ? 'base64' : 'utf8',
    truncated: stored.truncated,
  };
}

/** A stored record is input too: its shape is checked before it is answered. */
function parseStored(value: unknown): StoredForm {
  const v = value as Partial<Record<keyof StoredForm, unknown>> | null;
  const ok =
    typeof v === 'object' &&
    v !== null &&
    typeof v.receivedAt === 'number' &&
    typeof v.method === 'string' &&
    typeof v.path === 'string' &&
    typeof v.body === 'string' &&
    typeof v.truncated === 'boolean' &&
    typeof v.headers === 'object' &&
    v.headers !== null &&
    Object.values(v.headers).every((h) => typeof h === 'string');
  if (!ok) throw new Error('Stored inbox record has an unknown shape');
  return v as StoredForm;
}
