/*
 * The generator of packages/client/src/api-types.ts (scripts/gen-client-types.ts): what it makes
 * of each JSON Schema form, and that it refuses a keyword it cannot translate rather than emit a
 * type that says less than the schema. test/docs checks the committed file is what it generates.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type OpenApiDocument, clientTypes } from '../../scripts/gen-client-types.js';

const operation = (answer: Record<string, unknown>, extra: Record<string, unknown> = {}): OpenApiDocument => ({
  paths: {
    '/things/{id}': {
      get: {
        operationId: 'getThing',
        summary: 'A thing',
        security: [{ bearerToken: [] }],
        parameters: [
          { in: 'path', name: 'id', required: true, schema: { type: 'string' } },
          { in: 'query', name: 'limit', schema: { type: 'string' }, description: 'How many' },
        ],
        responses: { '200': { content: { 'application/json': { schema: answer } } }, '404': {} },
        ...extra,
      },
    },
  },
});

describe('the client types generator', () => {
  test('types, enums, consts, unions, arrays, maps and refs become their TypeScript types; the operation its entry and data', async () => {
    const text = await clientTypes({
      components: { schemas: { Problem: { type: 'object', required: ['code'], properties: { code: { enum: ['A', 'B'] } } } } },
      ...operation({
        type: 'object',
        required: ['id', 'kind'],
        properties: {
          id: { type: 'string', minLength: 1, description: 'The id' },
          kind: { const: 'thing' },
          size: { type: ['integer', 'null'] },
          parts: { type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'boolean' }] } },
          labels: { type: 'object', additionalProperties: { type: 'string' } },
          problem: { $ref: '#/components/schemas/Problem' },
          'odd-name': { type: 'number' },
        },
      }),
    });
    assert.match(text, /export type Problem = \{\n {2}code: 'A' \| 'B';\n\};/);
    assert.match(text, /\/\*\* The id \*\/\n {2}id: string;/);
    assert.match(text, /kind: 'thing';/);
    assert.match(text, /size\?: number \| null;/);
    assert.match(text, /parts\?: Array<string \| boolean>;/);
    assert.match(text, /labels\?: Record<string, string>;/);
    assert.match(text, /problem\?: Problem;/);
    assert.match(text, /'odd-name'\?: number;/);
    assert.match(text, /export type GetThingParams = \{\n {2}id: string;\n\};/);
    assert.match(text, /export type GetThingQuery = \{\n {2}\/\*\* How many \*\/\n {2}limit\?: string;\n\};/);
    assert.match(text, /getThing: \{ params: GetThingParams; query: GetThingQuery; body: never; answer: GetThingAnswer \};/);
    assert.match(text, /getThing: \{ method: 'GET', path: '\/things\/\{id\}', status: 200, auth: true \},/);
  });

  test('a schema the document repeats is written once and named after: whole, or inside another', async () => {
    const thing = { type: 'object', required: ['id'], properties: { id: { type: 'string' } } };
    const answer = (schema: Record<string, unknown>) => ({ responses: { '200': { content: { 'application/json': { schema } } } } });
    const text = await clientTypes({
      paths: {
        '/a': { get: { operationId: 'getA', ...answer(thing) } },
        '/b': { get: { operationId: 'getB', ...answer({ ...thing }) } },
        '/c': { get: { operationId: 'listC', ...answer({ type: 'object', properties: { items: { type: 'array', items: thing } } }) } },
        '/d': { get: { operationId: 'getD', ...answer({ ...thing, properties: { id: { type: 'integer' } } }) } },
      },
    });
    assert.match(text, /export type GetAAnswer = \{\n {2}id: string;\n\};/);
    assert.match(text, /export type GetBAnswer = GetAAnswer;/);
    assert.match(text, /items\?: GetAAnswer\[\];/);
    assert.match(text, /export type GetDAnswer = \{\n {2}id: number;\n\};/, 'a schema that differs is its own');
  });

  test('a keyword that would change the type, or a $ref outside the components, is refused with where it is', async () => {
    await assert.rejects(
      clientTypes(operation({ type: 'object', properties: { a: { not: { type: 'string' } } } })),
      /getThing\.answer\.a: .*"not"/,
    );
    await assert.rejects(clientTypes(operation({ $ref: 'https://example.com/schema' })), /cannot follow \$ref/);
    await assert.rejects(clientTypes(operation({ type: 'object' }, { responses: { '404': {} } })), /getThing: no 2xx answer/);
  });
});
