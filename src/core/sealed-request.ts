import { createDecipheriv, createHash, createHmac, hkdfSync } from 'node:crypto';
import sodium from 'sodium-native';
import { pooledRandomBytes } from './random-pool.js';
import { type OpenedRequest, decodeRequest, decodeRequestTarget, encodeRequest, shownUrl } from './request-codec.js';
import type { TargetView } from './shapes.js';
import type { HttpRequestSpec } from './task.js';

/*
 * The request a user sent may carry secrets in its headers, so it is stored only sealed, with
 * XChaCha20-Poly1305 (libsodium, through sodium-native). The format and the task id are the
 * additional authenticated data: a sealed request moved onto another task does not open.
 * Layout (bytes): format(1) | key id(4) | nonce(24) | ciphertext | tag(16). Format 4's plaintext
 * is request-codec.ts's binary layout; format 5 seals other records (sealBytes), whose plaintext
 * is their owner's; the format keeps either from opening as the other.
 *
 * Records sealed before are AES-256-GCM, format(1) | key id(4) | iv(12) | tag(16) | ciphertext,
 * and still open: format 2 (a binary request), 1 (a JSON request, stored as base64url text) and
 * 3 (other records). libsodium seals in one call into a buffer it is given; Node's ciphers are an
 * object each (a cipher context set up and freed per record), several times dearer, and every
 * attempt seals its answer's excerpt.
 */
const FORMAT = 4;
/** Any other record (sealBytes): its plaintext is the caller's. */
const BYTES_FORMAT = 5;
const GCM_JSON_FORMAT = 1;
const GCM_FORMAT = 2;
const GCM_BYTES_FORMAT = 3;
const NONCE_BYTES = 24;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_BYTES = 4;
const HEAD_BYTES = 1 + KEY_ID_BYTES + NONCE_BYTES;
const GCM_HEAD_BYTES = 1 + KEY_ID_BYTES + IV_BYTES + TAG_BYTES;

export interface RequestCipher {
  /** Fingerprint of the key (hex), safe to store and log. */
  readonly keyId: string;
  seal(request: HttpRequestSpec, taskId: string): Buffer;
  open(sealed: Uint8Array, taskId: string): OpenedRequest;
  /**
   * The method and shown URL of a sealed request (request-codec.ts shownUrl), for a listing: the
   * record is opened as by `open`, but of its plaintext only the method and URL are decoded. Kept
   * for the last records opened (OPENED_TARGETS), which listings polled every few seconds ask for again.
   */
  openTarget(sealed: Uint8Array, taskId: string): TargetView;
  /**
   * Seals other records (an inbox's requests) with the same key and layout, bound to `aad` (what the
   * record belongs to): a record moved elsewhere does not open. Never opens as a request, nor a request as this.
   */
  sealBytes(plain: Uint8Array, aad: string): Buffer;
  openBytes(sealed: Uint8Array, aad: string): Buffer;
  /**
   * A short keyed digest of a target host name (case-insensitive): equal hosts give equal tags
   * under one key, and the tag does not tell the host to whoever reads the store without the key.
   */
  hostTag(hostname: string): string;
  /**
   * A keyed digest of `data` for `purpose` (an Idempotency-Key, a request body): equal inputs give
   * equal digests under one key, and the digest tells nothing of the input without the key.
   */
  keyedDigest(purpose: string, data: string): string;
}

const HOST_TAG_BYTES = 12;

/**
 * Targets opened for listings, kept per sealed record: a task's request never changes once sealed
 * (a replay is a new task, sealed anew), and the dashboard asks for the same pages every few
 * seconds. A record is known by its task id with its key id, nonce and tag: a record sealed again
 * has another nonce, and one whose ciphertext changed under the same nonce and tag would not open,
 * so a hit only ever answers what opening that record answered. Forgotten all at once when full
 * (remembered.ts).
 */
const OPENED_TARGETS = 10_000;

/**
 * A 32-byte key from configuration: 64 hex characters or base64 of 32 bytes are used as they are;
 * any other string of at least 32 characters is stretched with HKDF-SHA256.
 */
export function deriveKey(secret: string): Buffer {
  if (/^[0-9a-fA-F]{64}$/.test(secret)) return Buffer.from(secret, 'hex');
  const decoded = Buffer.from(secret, 'base64');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(secret) && decoded.length === 32) return decoded;
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), 'kuueri-tasks', 'request-encryption', 32));
}

/** A record's authenticated data: its format, then what it is bound to (relabelled as another kind, it does not open). */
function additionalData(format: number, aad: string): Buffer {
  const data = Buffer.allocUnsafe(1 + Buffer.byteLength(aad, 'utf8'));
  data[0] = format;
  data.write(aad, 1, 'utf8');
  return data;
}

/** A sealed record's format, key id, nonce (or IV) and tag, as text: what the opened targets are kept by. */
function fingerprintOf(raw: Buffer): string {
  if (raw[0] === FORMAT && raw.length >= HEAD_BYTES + TAG_BYTES) {
    return raw.toString('latin1', 0, HEAD_BYTES) + raw.toString('latin1', raw.length - TAG_BYTES);
  }
  return raw.toString('latin1', 0, Math.min(raw.length, GCM_HEAD_BYTES));
}

export function createRequestCipher(key: Buffer): RequestCipher {
  if (key.length !== 32) throw new Error('The request encryption key must be 32 bytes');
  const keyId = createHash('sha256').update(key).digest().subarray(0, KEY_ID_BYTES);
  // Keys of their own for tags and for sealing: the configured key itself seals nothing new.
  const tagKey = Buffer.from(hkdfSync('sha256', key, 'kuueri-tasks', 'host-tag', 32));
  const sealKey = Buffer.from(hkdfSync('sha256', key, 'kuueri-tasks', 'xchacha20poly1305', 32));

  const seal = (format: number, plain: Uint8Array, aad: string): Buffer => {
    const raw = Buffer.allocUnsafe(HEAD_BYTES + plain.length + TAG_BYTES);
    raw[0] = format;
    keyId.copy(raw, 1);
    // 192 random bits per seal: XChaCha's nonce is long enough to be drawn at random.
    const nonce = raw.subarray(1 + KEY_ID_BYTES, HEAD_BYTES);
    pooledRandomBytes(NONCE_BYTES).copy(nonce);
    sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(raw.subarray(HEAD_BYTES), plain, additionalData(format, aad), null, nonce, sealKey);
    return raw;
  };
  const targets = new Map<string, TargetView>();
  const open = (sealed: Uint8Array, aad: string): { format: number; bytes: Buffer } => {
    const raw = Buffer.isBuffer(sealed) ? sealed : Buffer.from(sealed);
    const format = raw[0];
    const sodiumFormat = format === FORMAT || format === BYTES_FORMAT;
    const gcmFormat = format === GCM_FORMAT || format === GCM_JSON_FORMAT || format === GCM_BYTES_FORMAT;
    if ((!sodiumFormat && !gcmFormat) || raw.length < (sodiumFormat ? HEAD_BYTES + TAG_BYTES : GCM_HEAD_BYTES)) {
      throw new Error('Sealed request has an unknown format');
    }
    if (!raw.subarray(1, 1 + KEY_ID_BYTES).equals(keyId)) {
      throw new Error('Sealed request was sealed with another key');
    }
    if (sodiumFormat) {
      const sealedBody = raw.subarray(HEAD_BYTES);
      const bytes = Buffer.allocUnsafe(sealedBody.length - TAG_BYTES);
      const nonce = raw.subarray(1 + KEY_ID_BYTES, HEAD_BYTES);
      // Throws when the tag does not verify (another key, another aad, a changed byte).
      sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(bytes, null, sealedBody, additionalData(format, aad), nonce, sealKey);
      return { format, bytes };
    }
    const iv = raw.subarray(1 + KEY_ID_BYTES, 1 + KEY_ID_BYTES + IV_BYTES);
    const tag = raw.subarray(1 + KEY_ID_BYTES + IV_BYTES, GCM_HEAD_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tag);
    const plain = decipher.update(raw.subarray(GCM_HEAD_BYTES));
    const rest = decipher.final(); // throws when the tag does not match; empty for GCM, a stream mode
    return { format, bytes: rest.length === 0 ? plain : Buffer.concat([plain, rest]) };
  };

  const openTarget = (sealed: Buffer, taskId: string): TargetView => {
    const { format, bytes } = open(sealed, taskId);
    if (format === FORMAT || format === GCM_FORMAT) return decodeRequestTarget(bytes);
    if (format === GCM_JSON_FORMAT) {
      const { method, url } = parseStoredRequest(JSON.parse(bytes.toString('utf8')) as unknown);
      return { method, url: shownUrl(url) };
    }
    throw new Error('Sealed request has an unknown format');
  };

  return {
    keyId: keyId.toString('hex'),
    seal: (request, taskId) => seal(FORMAT, encodeRequest(request), taskId),
    open(sealed, taskId) {
      const { format, bytes } = open(sealed, taskId);
      if (format === FORMAT || format === GCM_FORMAT) return decodeRequest(bytes);
      if (format === GCM_JSON_FORMAT) return openedFromJson(parseStoredRequest(JSON.parse(bytes.toString('utf8')) as unknown));
      throw new Error('Sealed request has an unknown format');
    },
    openTarget(sealed, taskId) {
      const raw = Buffer.isBuffer(sealed) ? sealed : Buffer.from(sealed);
      const known = `${taskId} ${fingerprintOf(raw)}`;
      const kept = targets.get(known);
      if (kept) return { method: kept.method, url: kept.url };
      const target = openTarget(raw, taskId);
      if (targets.size >= OPENED_TARGETS) targets.clear();
      targets.set(known, target);
      return { method: target.method, url: target.url };
    },
    sealBytes: (plain, aad) => seal(BYTES_FORMAT, plain, aad),
    openBytes(sealed, aad) {
      const { format, bytes } = open(sealed, aad);
      if (format !== BYTES_FORMAT && format !== GCM_BYTES_FORMAT) throw new Error('Sealed record has an unknown format');
      return bytes;
    },
    keyedDigest(purpose, data) {
      return createHmac('sha256', tagKey).update(`${purpose}\n`).update(data).digest('base64url');
    },
    hostTag(hostname) {
      return createHmac('sha256', tagKey).update(hostname.toLowerCase()).digest().subarray(0, HOST_TAG_BYTES).toString('base64url');
    },
  };
}

function openedFromJson(request: HttpRequestSpec): OpenedRequest {
  const { data, ...rest } = request;
  const opened: OpenedRequest = rest;
  if (data !== undefined && request.method !== 'DELETE' && request.method !== 'GET') opened.body = Buffer.from(data, 'base64');
  return opened;
}

/** A stored record is input too: check its shape before the dispatcher trusts it. */
function parseStoredRequest(value: unknown): HttpRequestSpec {
  if (typeof value !== 'object' || value === null) throw new Error('Sealed request is not an object');
  const v = value as Record<string, unknown>;
  if (typeof v.url !== 'string' || typeof v.method !== 'string') throw new Error('Sealed request lacks url or method');
  const isStringMap = (m: unknown): m is Record<string, string> =>
    typeof m === 'object' && m !== null && Object.values(m).every((x) => typeof x === 'string');
  if (v.params !== undefined && !isStringMap(v.params)) throw new Error('Sealed request has bad params');
  if (v.headers !== undefined && !isStringMap(v.headers)) throw new Error('Sealed request has bad headers');
  if (v.data !== undefined && typeof v.data !== 'string') throw new Error('Sealed request has bad data');
  return value as HttpRequestSpec;
}
