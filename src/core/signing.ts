import { type KeyObject, createHmac, createSecretKey, randomBytes } from 'node:crypto';

/*
 * Signed deliveries, as the Standard Webhooks specification has them (standardwebhooks.com): every
 * attempt carries
 *   webhook-id         msg_<task id>_<repeat count>: the same for every retry of one execution,
 *                      new for each repeat, so a receiver de-duplicates by it (nothing stored);
 *   webhook-timestamp  the attempt's send time, in whole seconds since the epoch;
 *   webhook-signature  `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per secret in force,
 *                      space-separated, the newest first (a rotation's grace period sends two).
 * A project's secret is `whsec_<base64 of 32 random bytes>`; the HMAC key is the decoded bytes.
 */

export const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 32;

/** A new signing secret, in the form receivers' libraries take (`whsec_…`). */
export function newSigningSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** The HMAC key of a `whsec_…` secret (its base64 part decoded). */
export function signingKeyOf(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error('A signing secret starts with whsec_');
  return Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
}

/** The secret a stored key stands for, to show it (register and rotation answer it once). */
export function secretOfKey(key: Uint8Array): string {
  return SECRET_PREFIX + Buffer.from(key).toString('base64');
}

/** The webhook-id of an execution: every retry of it shares the id, each repeat has a new one. */
export function webhookId(task: { id: string; repeatCount: number }): string {
  return `msg_${task.id}_${task.repeatCount}`;
}

/**
 * The HMAC keys a project signs with now: its current key, and during a rotation's grace period
 * the previous one. Built once per project (signer caches) so that each delivery only hashes.
 */
export interface SigningKeys {
  current: KeyObject;
  /** The key before the last rotation, while its grace period lasts (`previousUntil`). */
  previous: KeyObject | null;
  /** When the previous key stops being used (ms); 0 when there is none. */
  previousUntil: number;
}

export function signingKeys(current: Uint8Array, previous: Uint8Array | null, previousUntil: number): SigningKeys {
  return {
    current: createSecretKey(current),
    previous: previous && previousUntil > 0 ? createSecretKey(previous) : null,
    previousUntil: previous ? previousUntil : 0,
  };
}

/** One `v1,<base64>` signature of `id.timestamp.body` (`timestamp`: the webhook-timestamp header's text). */
export function signatureOf(key: KeyObject | Uint8Array, id: string, timestamp: string, body: Uint8Array | undefined): string {
  const hmac = createHmac('sha256', key).update(`${id}.${timestamp}.`);
  if (body && body.length > 0) hmac.update(body);
  return `v1,${hmac.digest('base64')}`;
}

/**
 * The three Standard Webhooks headers of one attempt sent at `nowMs` with exactly `body` as its body,
 * added to `headers` (a new object when none is given), which is answered. Every delivery is signed
 * here, so it adds to the request's own headers rather than building an object to be copied.
 */
export function webhookHeaders(
  keys: SigningKeys | null,
  id: string,
  nowMs: number,
  body: Uint8Array | undefined,
  headers: Record<string, string> = {},
): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  headers['webhook-id'] = id;
  headers['webhook-timestamp'] = timestamp;
  if (!keys) return headers;
  let signature = signatureOf(keys.current, id, timestamp, body);
  if (keys.previous && nowMs < keys.previousUntil) signature += ` ${signatureOf(keys.previous, id, timestamp, body)}`;
  headers['webhook-signature'] = signature;
  return headers;
}

/** What a project's sealed signing keys are bound to (RequestCipher.sealBytes's aad): they open for no other project. */
export function signingAad(projectId: string): string {
  return `signing:${projectId}`;
}
