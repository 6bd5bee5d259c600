/*
 * Every error answer is `{statusCode, code, error, message}` (plus `issues` for field problems),
 * produced here and nowhere else. A 5xx says only that something failed; the cause goes to the log.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, invalidJson, validationError } from '../core/errors.js';
import type { ErrorBody } from '../core/shapes.js';
import { UNMATCHED_ROUTE } from '../observe/metrics.js';
import { isSchemaValidationFailure, validationIssues } from './validation-issues.js';

/** Turns anything thrown in a route into an AppError; unknown errors become INTERNAL, caused by them. */
export function toAppError(error: unknown, bodyLimit?: number): AppError {
  if (error instanceof AppError) return error;
  if (isSchemaValidationFailure(error)) return validationError(validationIssues(error));
  const fe = error as FastifyError;
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('BODY_TOO_LARGE', bodyLimit ? `The request body is larger than the limit of ${bodyLimit} bytes` : undefined);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('UNSUPPORTED_MEDIA_TYPE');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('INVALID_JSON', 'The request body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return invalidJson(error);
    default:
      break;
  }
  if (error instanceof SyntaxError) return invalidJson(error);
  if (fe.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH')
    return new AppError('BAD_REQUEST', 'The request body does not match its Content-Length');
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    if (fe.statusCode === 413) return new AppError('BODY_TOO_LARGE');
    if (fe.statusCode === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE');
    if (fe.statusCode === 429) return new AppError('RATE_LIMITED');
    return new AppError('BAD_REQUEST', fe.message);
  }
  return new AppError('INTERNAL', undefined, [], { cause: error });
}

/** The answer's body: `issues` only when there are some. */
export function errorBody(error: AppError): ErrorBody {
  const body: ErrorBody = {
    statusCode: error.status,
    code: error.code,
    error: STATUS_CODES[error.status] ?? 'Error',
    message: error.message,
  };
  if (error.issues.length > 0) body.issues = [...error.issues];
  return body;
}

/**
 * What failed underneath a 5xx, for the log: each error of the cause chain by name, code and
 * message (READONLY, OOM, ECONNREFUSED…), and the stack of the first. Written out field by field
 * rather than by pino's error serialiser, which copies every enumerable property: a driver's error
 * may carry the command it ran, arguments and all.
 */
function describeCause(cause: unknown): Record<string, unknown> {
  const chain: Array<{ type: string; code?: string; message?: string }> = [];
  let stack: string | undefined;
  for (let at: unknown = cause, depth = 0; at !== undefined && depth < 4; depth++) {
    if (!(at instanceof Error)) {
      chain.push(typeof at === 'string' ? { type: 'string', message: at.slice(0, 500) } : { type: typeof at });
      break;
    }
    const code = (at as { code?: unknown }).code;
    chain.push({
      type: at.name,
      ...(typeof code === 'string' || typeof code === 'number' ? { code: String(code) } : {}),
      message: at.message,
    });
    stack ??= at.stack;
    at = at.cause;
  }
  return { cause: chain, stack };
}

export function sendError(reply: FastifyReply, error: AppError): FastifyReply {
  const body = errorBody(error);
  if (error.code === 'UNAUTHORIZED') reply.header('www-authenticate', 'Bearer');
  if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds));
  return reply.code(error.status).type('application/json; charset=utf-8').send(body);
}

export function installErrorHandling(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler(async (error, request, reply) => {
    // A route may set its own limit (the batch route does).
    const limit = request.routeOptions.bodyLimit ?? bodyLimit;
    const appError = toAppError(error, limit);
    if (appError.status >= 500 && appError.cause !== undefined) {
      // The method and route template only: the URL's query, headers and bodies may hold tokens and secrets.
      request.log.error(
        {
          code: appError.code,
          method: request.method,
          route: request.routeOptions.url ?? UNMATCHED_ROUTE,
          ...describeCause(appError.cause),
        },
        `request failed: ${appError.code}`,
      );
    }
    // Answering while the client still uploads a body we refused makes it see a reset, not the
    // 413: read (and drop) what it sends, within bounds, then answer.
    if (appError.code === 'BODY_TOO_LARGE') await drain(request.raw, Math.max(16 * 1024 * 1024, limit * 8), 5_000);
    return sendError(reply, appError);
  });
}

function drain(stream: FastifyRequest['raw'], maxBytes: number, maxMs: number): Promise<void> {
  if (stream.complete || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const done = (): void => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', done);
      stream.off('error', done);
      stream.off('close', done);
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen > maxBytes) done();
    };
    const timer = setTimeout(done, maxMs);
    stream.on('data', onData);
    stream.once('end', done);
    stream.once('error', done);
    stream.once('close', done);
    stream.resume();
  });
}

/** Errors Fastify meets before routing: a path that does not decode. */
export function frameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const onIdRoute = /^\/v1beta\/(queues|pause|resume|unsubscribe|execute|reschedule)\//.test(request.url);
  const where = onIdRoute ? 'id' : 'path';
  const appError =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new AppError(onIdRoute ? 'TASK_NOT_FOUND' : 'NOT_FOUND', `${where}: too long`)
      : new AppError('BAD_REQUEST', `${where}: is not a valid URL component (bad percent-encoding)`);
  void sendError(reply, appError);
}

/**
 * Requests Node's HTTP parser refuses (malformed framing, oversized headers, timeouts) never reach
 * Fastify: answer them on the socket, in the same shape as every other error, and close it.
 */
export function clientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const appError =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? new AppError('HEADERS_TOO_LARGE')
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new AppError('REQUEST_TIMEOUT')
        : new AppError('BAD_REQUEST', 'The request is not valid HTTP');
  const body = JSON.stringify(errorBody(appError));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${appError.status} ${STATUS_CODES[appError.status] ?? 'Error'}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

export function notFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendError(reply, new AppError('NOT_FOUND', `Route ${request.method} ${request.url.split('?')[0]!.slice(0, 200)} not found`));
}
