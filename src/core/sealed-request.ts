import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync } from 'node:crypto';
import { pooledRandomBytes } from './random-pool.js';
import { type OpenedRequest, decodeRequest, decodeRequestTarget, encodeRequest, shownUrl } from './request-codec.js';
import type { TargetView } from './shapes.js';
import type { HttpRequestSpec } from './task.js';

/*
 * The request a user sent may carry secrets in its headers, so it is stored only sealed with
 * AES-256-GCM. The task id is the additional authenticated data: a sealed request moved onto
 * another task does not open. Layout (bytes): format(1) | key id(4) | iv(12) | tag(16) | ciphertext.
 * Format 2's plaintext is request-codec.ts's binary layout; format 1 (written before it, and
 * stored as base64url text) was JSON, and still opens. Format 3 seals other records (sealBytes),
 * whose plaintext is their owner's; the format keeps either from opening as the other.
 */
const FORMAT = 2;
const JSON_FORMAT = 1;
/** Any other record sealed the same way (sealBytes): its plaintext is the caller's. */
const BYTES_FORMAT = 3;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_BYTES = 4;
const HEAD_BYTES = 1 + KEY_ID_BYTES + IV_BYTES + TAG_BYTES;

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
 * seconds. A record is known by its task id with its key id, IV and tag: a record sealed again has
 * another IV, and one whose ciphertext changed under the same head would not open, so a hit only
 * ever answers what opening that record answered. Forgotten all at once when full (remembered.ts).
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

export function createRequestCipher(key: Buffer): RequestCipher {
  if (key.length !== 32) throw new Error('The request encryption key must be 32 bytes');
  const keyId = createHash('sha256').update(key).digest().subarray(0, KEY_ID_BYTES);
  // A key of its own for tags: the encryption key is used for nothing but encryption.
  const tagKey = Buffer.from(hkdfSync('sha256', key, 'kuueri-tasks', 'host-tag', 32));

  const seal = (format: number, plain: Uint8Array, aad: string): Buffer => {
    const iv = pooledRandomBytes(IV_BYTES); // 96 random bits per seal: GCM's recommended IV
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = cipher.update(plain);
    const rest = cipher.final(); // empty for GCM, a stream mode
    // One allocation for the whole record: each Buffer.concat was an allocation and a copy of its own.
    const raw = Buffer.allocUnsafe(HEAD_BYTES + body.length + rest.length);
    raw[0] = format;
    keyId.copy(raw, 1);
    iv.copy(raw, 1 + KEY_ID_BYTES);
    cipher.getAuthTag().copy(raw, 1 + KEY_ID_BYTES + IV_BYTES);
    body.copy(raw, HEAD_BYTES);
    rest.copy(raw, HEAD_BYTES + body.length);
    return raw;
  };
  const targets = new Map<string, TargetView>();
  const open = (sealed: Uint8Array, aad: string): { format: number; bytes: Buffer } => {
    const raw = Buffer.isBuffer(sealed) ? sealed : Buffer.from(sealed);
    const format = raw[0];
    if (raw.length < HEAD_BYTES || (format !== FORMAT && format !== JSON_FORMAT && format !== BYTES_FORMAT)) {
      throw new Error('Sealed request has an unknown format');
    }
    if (!raw.subarray(1, 1 + KEY_ID_BYTES).equals(keyId)) {
      throw new Error('Sealed request was sealed with another key');
    }
    const iv = raw.subarray(1 + KEY_ID_BYTES, 1 + KEY_ID_BYTES + IV_BYTES);
    const tag = raw.subarray(1 + KEY_ID_BYTES + IV_BYTES, HEAD_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tag);
    const plain = decipher.update(raw.subarray(HEAD_BYTES));
    const rest = decipher.final(); // throws when the tag does not match; empty for GCM, a stream mode
    return { format, bytes: rest.length === 0 ? plain : Buffer.concat([plain, rest]) };
  };

  const openTarget = (sealed: Buffer, taskId: string): TargetView => {
    const { format, bytes } = open(sealed, taskId);
    if (format === FORMAT) return decodeRequestTarget(bytes);
    if (format === JSON_FORMAT) {
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
      if (format === FORMAT) return decodeRequest(bytes);
      if (format === JSON_FORMAT) return openedFromJson(parseStoredRequest(JSON.parse(bytes.toString('utf8')) as unknown));
      throw new Error('Sealed request has an unknown format');
    },
    openTarget(sealed, taskId) {
      const raw = Buffer.isBuffer(sealed) ? sealed : Buffer.from(sealed);
      const known = `${taskId} ${raw.toString('latin1', 0, Math.min(raw.length, HEAD_BYTES))}`;
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
      if (format !== BYTES_FORMAT) throw new Error('Sealed record has an unknown format');
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
