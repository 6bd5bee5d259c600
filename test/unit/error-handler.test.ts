/*
 * The error handler tells the log what failed underneath a 5xx (the AppError's cause chain, with
 * the request's method, route template and id) and tells the client nothing of it.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import pino from 'pino';
import { installErrorHandling } from '../../src/api/error-handler.js';
import { AppError } from '../../src/core/errors.js';

type LogLine = Record<string, unknown>;

/** A Fastify app whose only route throws `error`, with a logger that keeps its lines. */
function appThrowing(error: unknown): { app: FastifyInstance; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as LogLine);
      callback();
    },
  });
  const logger: FastifyBaseLogger = pino({ level: 'info' }, sink);
  const app = Fastify({ loggerInstance: logger });
  installErrorHandling(app, 1024);
  app.post('/v1beta/subscribe', async () => {
    throw error;
  });
  return { app, lines };
}

const SECRET = 'secret-header-value';
const inject = (app: FastifyInstance) =>
  app.inject({
    method: 'POST',
    url: '/v1beta/subscribe?x=1',
    headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
    payload: { httpRequest: { headers: { 'x-token': SECRET } } },
  });

describe('error handler: causes of 5xx answers', () => {
  test('a STORE_UNAVAILABLE with a cause logs the cause chain with method and route, never the URL, headers or body', async () => {
    const readonly = Object.assign(new Error("READONLY You can't write against a read only replica."), {
      name: 'ReplyError',
      command: { name: 'evalsha', args: [SECRET] },
    });
    const { app, lines } = appThrowing(
      new AppError('STORE_UNAVAILABLE', undefined, [], { cause: new Error('write failed', { cause: readonly }) }),
    );
    const res = await inject(app);

    assert.equal(res.statusCode, 503);
    assert.deepEqual(res.json(), {
      statusCode: 503,
      code: 'STORE_UNAVAILABLE',
      error: 'Service Unavailable',
      message: 'The task store is unavailable; try again shortly',
    });
    assert.ok(!res.body.includes('READONLY'), 'the client is told nothing of the cause');

    const failed = lines.filter((l) => l.code === 'STORE_UNAVAILABLE');
    assert.equal(failed.length, 1, JSON.stringify(lines));
    const line = failed[0]!;
    assert.equal(line.level, 50);
    assert.equal(line.method, 'POST');
    assert.equal(line.route, '/v1beta/subscribe', 'the route template, not the URL: its query may hold anything');
    assert.equal(line.url, undefined);
    assert.equal(typeof line.reqId, 'string', "the request's id");
    assert.deepEqual(line.cause, [
      { type: 'Error', message: 'write failed' },
      { type: 'ReplyError', message: "READONLY You can't write against a read only replica." },
    ]);
    assert.match(String(line.stack), /write failed/);
    assert.ok(!JSON.stringify(lines).includes(SECRET), 'no header, body or driver command in the log');
  });

  test('a cause keeps its code: connection refused reads as such', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    const { app, lines } = appThrowing(new AppError('STORE_UNAVAILABLE', undefined, [], { cause: refused }));
    assert.equal((await inject(app)).statusCode, 503);
    const line = lines.find((l) => l.code === 'STORE_UNAVAILABLE');
    assert.deepEqual(line?.cause, [{ type: 'Error', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:6379' }]);
  });

  test('an unexpected error answers INTERNAL and is logged as its cause, by name, message and stack only', async () => {
    const bug = Object.assign(new TypeError('cannot read properties of undefined'), { command: { args: [SECRET] } });
    const { app, lines } = appThrowing(bug);
    const res = await inject(app);
    assert.equal(res.statusCode, 500);
    assert.deepEqual(res.json(), { statusCode: 500, code: 'INTERNAL', error: 'Internal Server Error', message: 'Internal server error' });
    const line = lines.find((l) => l.code === 'INTERNAL');
    assert.deepEqual(line?.cause, [{ type: 'TypeError', message: 'cannot read properties of undefined' }]);
    assert.match(String(line?.stack), /error-handler\.test\.ts/);
    assert.ok(!JSON.stringify(lines).includes(SECRET));
  });

  test('nothing is logged for a 5xx without a cause, nor for a 4xx with one', async () => {
    for (const error of [
      new AppError('STORE_UNAVAILABLE'),
      new AppError('TASK_BUSY', undefined, [], { cause: new Error('lost the race') }),
    ]) {
      const { app, lines } = appThrowing(error);
      assert.equal((await inject(app)).statusCode, error.status);
      assert.deepEqual(
        lines.filter((l) => l.level === 50),
        [],
        error.code,
      );
    }
  });
});
