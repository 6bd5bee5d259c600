import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The header a request id is read from (when a proxy in front gave one) and answered in. */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * What an incoming id must look like to be kept: letters, digits, `.`, `:` and `-`, up to 64
 * (a UUID, nginx's `$request_id`, most tracing ids). No `_`, `/`, `=`, `+` or space: a project token
 * (`kt_…`), a base64 secret or a `Bearer …` value never passes, so a client cannot get one written
 * to the log by sending it here.
 */
const KEPT_ID = /^[A-Za-z0-9][A-Za-z0-9.:-]{0,63}$/;

/**
 * Fastify's genReqId: the id of a request, in every log line about it and in its answer's
 * X-Request-Id. The caller's id when it has the kept shape (so a proxy's id follows the request),
 * else a new random one.
 */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && KEPT_ID.test(given) ? given : randomUUID();
}
