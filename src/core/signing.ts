import { hash, randomBytes } from 'node:crypto';

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

/** SHA-256's block: an HMAC key is padded (or first hashed) to it (RFC 2104). */
const BLOCK_BYTES = 64;
const DIGEST_BYTES = 32;
/** Messages up to this long are laid out in one buffer kept for every signature; longer ones get their own. */
const KEPT_MESSAGE_BYTES = 64 * 1024;
let message = Buffer.allocUnsafe(BLOCK_BYTES + 4 * 1024);

/**
 * An HMAC-SHA256 key with its inner and outer pads made once. A signature is then two one-shot
 * hashes (crypto.hash) over buffers laid out in place: Node's Hmac is an object with a native
 * context per call, set up from the key each time, several times the cost of the hashing itself
 * for a body of a few KB, and every attempt is signed.
 */
export class HmacKey {
  /** key ⊕ ipad, then the message of the call under way. */
  private readonly innerPad: Buffer;
  /** key ⊕ opad, then the inner digest of the call under way. */
  private readonly outer: Buffer;

  constructor(key: Uint8Array) {
    const padded = Buffer.alloc(BLOCK_BYTES);
    if (key.length > BLOCK_BYTES) hash('sha256', key, 'buffer').copy(padded);
    else padded.set(key);
    this.innerPad = Buffer.allocUnsafe(BLOCK_BYTES);
    this.outer = Buffer.allocUnsafe(BLOCK_BYTES + DIGEST_BYTES);
    for (let i = 0; i < BLOCK_BYTES; i++) {
      this.innerPad[i] = padded[i]! ^ 0x36;
      this.outer[i] = padded[i]! ^ 0x5c;
    }
  }

  /** HMAC-SHA256 of `text` (as UTF-8) followed by `bytes`, in base64. */
  base64(text: string, bytes: Uint8Array | undefined): string {
    const room = BLOCK_BYTES + text.length * 3 + (bytes?.length ?? 0);
    let into = message;
    if (room > into.length) {
      into = Buffer.allocUnsafe(room);
      if (room <= KEPT_MESSAGE_BYTES) message = into;
    }
    this.innerPad.copy(into, 0);
    let length = BLOCK_BYTES + into.write(text, BLOCK_BYTES, 'utf8');
    if (bytes && bytes.length > 0) {
      into.set(bytes, length);
      length += bytes.length;
    }
    // Synchronous: the shared buffers are free again when this returns.
    hash('sha256', into.subarray(0, length), 'buffer').copy(this.outer, BLOCK_BYTES);
    return hash('sha256', this.outer, 'base64');
  }
}

/**
 * The HMAC keys a project signs with now: its current key, and during a rotation's grace period
 * the previous one. Built once per project (signer caches) so that each delivery only hashes.
 */
export interface SigningKeys {
  current: HmacKey;
  /** The key before the last rotation, while its grace period lasts (`previousUntil`). */
  previous: HmacKey | null;
  /** When the previous key stops being used (ms); 0 when there is none. */
  previousUntil: number;
}

export function signingKeys(current: Uint8Array, previous: Uint8Array | null, previousUntil: number): SigningKeys {
  return {
    current: new HmacKey(current),
    previous: previous && previousUntil > 0 ? new HmacKey(previous) : null,
    previousUntil: previous ? previousUntil : 0,
  };
}

/** One `v1,<base64>` signature of `id.timestamp.body` (`timestamp`: the webhook-timestamp header's text). */
export function signatureOf(key: HmacKey, id: string, timestamp: string, body: Uint8Array | undefined): string {
  return `v1,${key.base64(`${id}.${timestamp}.`, body)}`;
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
