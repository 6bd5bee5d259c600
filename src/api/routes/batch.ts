import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { AppError, validationError } from '../../core/errors.js';
import type { BatchItemResult } from '../../core/shapes.js';
import type { Task } from '../../core/task.js';
import { queuedView } from '../../core/views.js';
import { queueFull } from '../../store/task-store.js';
import { type RouteContext, projectOf } from '../context.js';
import { errorBody } from '../error-handler.js';
import { IDEMPOTENCY_HEADER } from '../idempotency.js';
import { ROUTE_SCHEMAS } from '../schemas.js';
import { newTask, subscribeIssues } from '../subscribe-body.js';
import { type SchemaValidationFailure, isSchemaValidationFailure, validationIssues } from '../validation-issues.js';

type SchemaError = SchemaValidationFailure['validation'][number];

/** An error of the array's schema at `/<index>/…`: that item's, with the path inside the item. */
const ITEM_PATH = /^\/(\d+)(\/.*)?$/;

/**
 * The schema's errors of a batch, split: those of the array itself (not an array, too few or too
 * many items), and each item's, with paths as the single subscribe would see them.
 */
function splitErrors(errors: readonly SchemaError[]): { array: SchemaError[]; items: Map<number, SchemaError[]> } {
  const array: SchemaError[] = [];
  const items = new Map<number, SchemaError[]>();
  for (const error of errors) {
    const match = ITEM_PATH.exec(error.instancePath);
    if (!match) {
      array.push(error);
      continue;
    }
    const index = Number(match[1]);
    let list = items.get(index);
    if (!list) items.set(index, (list = []));
    list.push({ ...error, instancePath: match[2] ?? '' });
  }
  return { array, items };
}

/**
 * `POST /v1beta/subscribe/batch`: up to 1,000 subscribe bodies in one request, each judged and
 * stored on its own (the same validation, sealing and queue limit as the single subscribe), in one
 * write of the store. Answers one result per item, in order.
 */
export function batchRoutes(fastify: FastifyInstance, ctx: RouteContext, bodyLimit: number): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.post('/v1beta/subscribe/batch', { schema: ROUTE_SCHEMAS.subscribeBatch, attachValidation: true, bodyLimit }, async (request) => {
    const project = projectOf(request);
    if (request.headers[IDEMPOTENCY_HEADER] !== undefined) {
      throw validationError([
        {
          field: 'Idempotency-Key',
          message: 'is not taken by the batch route (one key cannot stand for many tasks); send it with POST /v1beta/subscribe',
        },
      ]);
    }
    const now = ctx.clock.now();
    const body: unknown = request.body;
    const failure: unknown = request.validationError;
    const { array, items } = splitErrors(isSchemaValidationFailure(failure) ? failure.validation : []);
    if (array.length > 0 || !Array.isArray(body)) {
      throw validationError(validationIssues({ validation: array, validationContext: 'body' }));
    }

    const results: BatchItemResult[] = new Array<BatchItemResult>(body.length);
    const tasks: Task[] = [];
    const positions: number[] = [];
    const hostTags = new Map<string, string>();
    body.forEach((item, i) => {
      try {
        const errors = items.get(i);
        if (errors) throw validationError(subscribeIssues(item, { validation: errors, validationContext: 'body' }, project.id, now, ctx));
        tasks.push(newTask(request.body[i]!, project.id, now, ctx, hostTags));
        positions.push(i);
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        results[i] = { statusCode: error.status, error: errorBody(error) };
      }
    });

    const stored = await ctx.store.insertTasks(tasks, ctx.queueLimit);
    ctx.metrics.subscribed(stored.filter(Boolean).length);
    const full = errorBody(queueFull(ctx.queueLimit));
    stored.forEach((ok, k) => {
      results[positions[k]!] = ok ? { statusCode: 201, task: queuedView(tasks[k]!) } : { statusCode: full.statusCode, error: full };
    });
    return results;
  });
}
