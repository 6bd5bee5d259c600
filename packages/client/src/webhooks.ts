/*
 * Checks the signature of a request Kuueri Tasks delivered, for the receiving side, per Standard
 * Webhooks (https://www.standardwebhooks.com): the request carries `webhook-id`,
 * `webhook-timestamp` (Unix seconds) and `webhook-signature`, a space-separated list of
 * `v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>`. The secret is `whsec_<base64>`.
 *
 * A request is accepted when any v1 signature matches under any of the secrets given (a sender
 * rotating its secret signs with the old and the new one; a receiver rotating accepts both), and
 * its timestamp is within the tolerance of now either way (a replayed request is refused once it is
 * older). Signatures are compared in constant time. Check the raw body, byte for byte as received:
 * a body parsed and serialised again is not the one that was signed.
 *
 * Imported alone (`@kuueri/tasks-client/webhooks`), it loads node:crypto and nothing else.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Why a request was refused. */
export type WebhookFailure =
  /** A secret is not `whsec_` + base64 (or raw bytes), or is empty. */
  | 'invalid-secret'
  /** `webhook-id`, `webhook-timestamp` or `webhook-signature` is missing or empty. */
  | 'missing-header'
  /** `webhook-timestamp` is not a whole number of seconds. */
  | 'invalid-timestamp'
  /** The timestamp is older than the tolerance allows. */
  | 'timestamp-too-old'
  /** The timestamp is further ahead than the tolerance allows. */
  | 'timestamp-too-new'
  /** No v1 signature matches the body, id and timestamp under any secret. */
  | 'no-matching-signature';

/** The error verifyWebhook throws: the request must not be trusted. */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  constructor(
    readonly reason: WebhookFailure,
    message: string,
  ) {
    super(message);
  }
}

/** A request's headers: a fetch `Headers`, or an object such as node's `IncomingHttpHeaders` (names in any case). */
export type WebhookHeaders = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

/** A signing secret: `whsec_<base64>` (or the base64 alone), or the key's raw bytes. */
export type WebhookSecret = string | Uint8Array;

export interface VerifyWebhookOptions {
  /** The endpoint's secret; several while it rotates (any may match). */
  secret: WebhookSecret | readonly WebhookSecret[];
  /** The raw body as received: the string, or its bytes. */
  body: string | Uint8Array;
  headers: WebhookHeaders;
  /** How far the timestamp may be from now, either way, in seconds (default 300). */
  toleranceSeconds?: number;
  /** Now, in milliseconds since the epoch (default `Date.now`): for tests. */
  now?: () => number;
}

/** What a verified request said about itself. */
export interface VerifiedWebhook {
  /** `webhook-id`: the same for every attempt of one message, so a receiver can drop repeats. */
  id: string;
  /** `webhook-timestamp`, in Unix seconds. */
  timestamp: number;
}

/** Standard Webhooks' default tolerance: five minutes. */
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

const SECRET_PREFIX = 'whsec_';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const encoder = new TextEncoder();

/**
 * Verifies a delivered request's signature; answers its id and timestamp, or throws a
 * WebhookVerificationError saying why it must not be trusted.
 */
export function verifyWebhook(options: VerifyWebhookOptions): VerifiedWebhook {
  const keys = (Array.isArray(options.secret) ? (options.secret as readonly WebhookSecret[]) : [options.secret as WebhookSecret]).map(
    secretKey,
  );
  if (keys.length === 0) throw new WebhookVerificationError('invalid-secret', 'No secret was given');
  const id = header(options.headers, 'webhook-id');
  const timestampText = header(options.headers, 'webhook-timestamp');
  const signatures = header(options.headers, 'webhook-signature');
  if (id === undefined || timestampText === undefined || signatures === undefined) {
    throw new WebhookVerificationError('missing-header', 'The webhook-id, webhook-timestamp and webhook-signature headers are required');
  }
  if (!/^\d{1,15}$/.test(timestampText)) throw new WebhookVerificationError('invalid-timestamp', 'webhook-timestamp is not Unix seconds');
  const timestamp = Number(timestampText);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const now = Math.floor((options.now ?? Date.now)() / 1000);
  if (now - timestamp > tolerance) throw new WebhookVerificationError('timestamp-too-old', 'The message timestamp is too old');
  if (timestamp - now > tolerance)
    throw new WebhookVerificationError('timestamp-too-new', 'The message timestamp is too far in the future');

  const given = signatures
    .split(' ')
    // node joins a repeated header with ", ": the comma is no part of a base64 signature.
    .map((entry) => entry.replace(/,$/, ''))
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => Buffer.from(entry.slice(3), 'base64'));
  const content = signedContent(id, timestampText, options.body);
  for (const key of keys) {
    const expected = createHmac('sha256', key).update(content).digest();
    // Every given signature is compared, not only up to the first match, so the time taken does not say which matched.
    let matched = false;
    for (const signature of given) {
      if (signature.length === expected.length && timingSafeEqual(signature, expected)) matched = true;
    }
    if (matched) return { id, timestamp };
  }
  throw new WebhookVerificationError('no-matching-signature', 'No signature matches');
}

/**
 * The `webhook-signature` value for a message: `v1,<base64>`, one per secret, space-separated.
 * For tests of a receiver, and for senders; `timestamp` is in Unix seconds.
 */
export function signWebhook(options: {
  secret: WebhookSecret | readonly WebhookSecret[];
  id: string;
  timestamp: number;
  body: string | Uint8Array;
}): string {
  const secrets = Array.isArray(options.secret) ? (options.secret as readonly WebhookSecret[]) : [options.secret as WebhookSecret];
  const content = signedContent(options.id, String(options.timestamp), options.body);
  return secrets.map((secret) => `v1,${createHmac('sha256', secretKey(secret)).update(content).digest('base64')}`).join(' ');
}

/** `<id>.<timestamp>.<body>` as bytes: the body's own bytes, never decoded and encoded again. */
function signedContent(id: string, timestamp: string, body: string | Uint8Array): Buffer {
  const bytes = typeof body === 'string' ? encoder.encode(body) : body;
  return Buffer.concat([encoder.encode(`${id}.${timestamp}.`), bytes]);
}

function secretKey(secret: WebhookSecret): Uint8Array {
  if (secret instanceof Uint8Array) {
    if (secret.length === 0) throw new WebhookVerificationError('invalid-secret', 'The secret is empty');
    return secret;
  }
  const base64 = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (base64 === '' || !BASE64.test(base64))
    throw new WebhookVerificationError('invalid-secret', 'The secret is not whsec_ followed by base64');
  return Buffer.from(base64, 'base64');
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  let value: string | readonly string[] | null | undefined;
  if (isHeaders(headers)) value = headers.get(name);
  else {
    value = headers[name];
    if (value === undefined) {
      const key = Object.keys(headers).find((candidate) => candidate.toLowerCase() === name);
      value = key === undefined ? undefined : headers[key];
    }
  }
  // A header repeated arrives as several values: signatures may be split across them; the id and timestamp may not.
  if (value !== null && value !== undefined && typeof value !== 'string') {
    const values: readonly string[] = value;
    value = name === 'webhook-signature' ? values.join(' ') : values.length === 1 ? values[0] : undefined;
  }
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function isHeaders(headers: WebhookHeaders): headers is Headers {
  return typeof (headers as { get?: unknown }).get === 'function';
}
