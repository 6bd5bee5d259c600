// Generates packages/client/src/api-types.ts from the OpenAPI document (docs/openapi.json, as
// scripts/gen-docs.ts builds it): for every operation with an operationId, the types of its path
// parameters, query, body and success answer, and its method, path, status and security as data. The client's
// methods are written by hand over these types. `npm run docs` writes the file; test/docs fails when
// it is out of step with the routes.
//
// It translates the JSON Schema the routes use (types, enums, consts, objects, arrays, $refs to
// components) and fails on a keyword that would change a type it does not know, rather than emit a
// type that says less than the schema.
import { format, resolveConfig } from 'prettier';

/** The parts of an OpenAPI 3.1 document the generator reads. */
export interface OpenApiDocument {
  components?: { schemas?: Record<string, Schema> };
  paths: Record<string, Record<string, Operation>>;
}

interface Operation {
  operationId?: string;
  security?: Array<Record<string, string[]>>;
  summary?: string;
  parameters?: Array<{ in: string; name: string; required?: boolean; schema?: Schema; description?: string }>;
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { content?: Record<string, { schema?: Schema }> }>;
}

type Schema = Record<string, unknown>;

/** Where the generated file lives, from the repository's root. */
export const CLIENT_TYPES_FILE = 'packages/client/src/api-types.ts';

/** Keywords that constrain values without changing their TypeScript type. */
const NO_TYPE_KEYWORDS = new Set([
  'description',
  'title',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
  'propertyNames',
  'default',
  'example',
  'examples',
]);
const TYPE_KEYWORDS = new Set([
  'type',
  'enum',
  'const',
  '$ref',
  'anyOf',
  'oneOf',
  'allOf',
  'properties',
  'required',
  'items',
  'additionalProperties',
]);

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

const pascal = (id: string): string => id.charAt(0).toUpperCase() + id.slice(1);
const propertyKey = (name: string): string => (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : JSON.stringify(name));
const docComment = (text: string | undefined): string => (text ? `/** ${text.replace(/\*\//g, '*\\/').replace(/\n/g, ' ')} */\n` : '');

function check(schema: Schema, where: string): void {
  for (const key of Object.keys(schema)) {
    if (!NO_TYPE_KEYWORDS.has(key) && !TYPE_KEYWORDS.has(key))
      throw new Error(`${where}: the generator does not know the keyword "${key}"`);
  }
}

/**
 * Object and array schemas already given a name, by their canonical JSON: a schema the document
 * repeats (the task view in every answer that holds a task) is written once and named after.
 */
type Named = Map<string, string>;

/** A schema's JSON with its keys sorted, so equal schemas have equal keys in `Named`. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonical(inner)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const isComposite = (schema: Schema): boolean => schema.type === 'object' || schema.type === 'array' || schema.properties !== undefined;

/** The TypeScript type of a JSON Schema: the name of an equal schema named before, else its own text. */
function typeOf(schema: Schema, where: string, named: Named): string {
  check(schema, where);
  const known = isComposite(schema) ? named.get(canonical(schema)) : undefined;
  if (known !== undefined) return known;
  if (typeof schema.$ref === 'string') {
    const match = /^#\/components\/schemas\/([A-Za-z0-9_]+)$/.exec(schema.$ref);
    if (!match) throw new Error(`${where}: cannot follow $ref ${schema.$ref}`);
    return match[1]!;
  }
  if ('const' in schema) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return schema.enum.map((value) => JSON.stringify(value)).join(' | ');
  for (const [key, joiner] of [
    ['anyOf', ' | '],
    ['oneOf', ' | '],
    ['allOf', ' & '],
  ] as const) {
    const parts = schema[key];
    if (Array.isArray(parts)) return parts.map((part, i) => `(${typeOf(part as Schema, `${where}.${key}[${i}]`, named)})`).join(joiner);
  }
  const types = Array.isArray(schema.type) ? (schema.type as string[]) : typeof schema.type === 'string' ? [schema.type] : [];
  if (types.length === 0) return schema.properties || schema.additionalProperties ? objectType(schema, where, named) : 'unknown';
  return types.map((type) => simpleType(type, schema, where, named)).join(' | ');
}

function simpleType(type: string, schema: Schema, where: string, named: Named): string {
  switch (type) {
    case 'string':
    case 'boolean':
    case 'null':
      return type;
    case 'integer':
    case 'number':
      return 'number';
    case 'array': {
      if (schema.items === undefined) return 'unknown[]';
      const item = typeOf(schema.items as Schema, `${where}[]`, named);
      return /^[A-Za-z0-9_]+$/.test(item) ? `${item}[]` : `Array<${item}>`;
    }
    case 'object':
      return objectType(schema, where, named);
    default:
      throw new Error(`${where}: unknown type ${type}`);
  }
}

function objectType(schema: Schema, where: string, named: Named): string {
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  const required = new Set((schema.required ?? []) as string[]);
  const extra = schema.additionalProperties;
  const extraType = typeof extra === 'object' && extra !== null ? typeOf(extra as Schema, `${where}.*`, named) : null;
  const names = Object.keys(properties);
  if (names.length === 0) return `Record<string, ${extraType ?? 'unknown'}>`;
  const members = names.map((name) => {
    const property = properties[name]!;
    const optional = required.has(name) ? '' : '?';
    return `${docComment(property.description as string | undefined)}${propertyKey(name)}${optional}: ${typeOf(property, `${where}.${name}`, named)};`;
  });
  // An index signature must admit every named member's type too.
  if (extraType !== null) members.push(`[key: string]: unknown;`);
  return `{\n${members.join('\n')}\n}`;
}

/** The success answer's status and schema: the lowest 2xx the operation declares. */
function successOf(op: Operation): { status: number; schema: Schema | undefined } {
  const status = Object.keys(op.responses ?? {})
    .map(Number)
    .filter((code) => code >= 200 && code < 300)
    .sort((a, b) => a - b)[0];
  if (status === undefined) throw new Error(`${op.operationId}: no 2xx answer`);
  return { status, schema: op.responses?.[String(status)]?.content?.['application/json']?.schema };
}

function parametersType(op: Operation, place: 'path' | 'query', named: Named): string | null {
  const parameters = (op.parameters ?? []).filter((p) => p.in === place);
  if (parameters.length === 0) return null;
  const members = parameters.map(
    (p) =>
      `${docComment(p.description)}${propertyKey(p.name)}${p.required ? '' : '?'}: ${typeOf(p.schema ?? {}, `${op.operationId}.${place}.${p.name}`, named)};`,
  );
  return `{\n${members.join('\n')}\n}`;
}

/** The text of packages/client/src/api-types.ts for `doc`, formatted as the repository formats TypeScript. */
export async function clientTypes(doc: OpenApiDocument): Promise<string> {
  const out: string[] = [
    '// Generated by scripts/gen-client-types.ts from the OpenAPI document (`npm run docs`): do not edit.',
    "// test/docs fails when this file is out of step with the server's routes.",
    '',
  ];
  const named: Named = new Map();
  for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
    out.push(`${docComment(schema.description as string | undefined)}export type ${name} = ${typeOf(schema, name, named)};`, '');
    named.set(canonical(schema), name);
  }
  const entries: string[] = [];
  const table: string[] = [];
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(operations)) {
      if (!HTTP_METHODS.includes(method) || op.operationId === undefined) continue;
      const id = op.operationId;
      const name = pascal(id);
      const where = `${method.toUpperCase()} ${path}`;
      /** Writes the type of one part of the operation; a body or answer schema is named for later ones to use. */
      const part = (suffix: string, type: string | null, what: string, schema?: Schema): string => {
        if (type === null) return 'never';
        out.push(`/** ${what} of \`${where}\`. */`, `export type ${name}${suffix} = ${type};`, '');
        if (schema && isComposite(schema) && !named.has(canonical(schema))) named.set(canonical(schema), `${name}${suffix}`);
        return `${name}${suffix}`;
      };
      const bodySchema = op.requestBody?.content?.['application/json']?.schema;
      const success = successOf(op);
      const params = part('Params', parametersType(op, 'path', named), 'The path parameters');
      const query = part('Query', parametersType(op, 'query', named), 'The query parameters');
      const body = part('Body', bodySchema ? typeOf(bodySchema, `${id}.body`, named) : null, 'The request body', bodySchema);
      const answer = part(
        'Answer',
        success.schema ? typeOf(success.schema, `${id}.answer`, named) : 'unknown',
        `The ${success.status} answer`,
        success.schema,
      );
      entries.push(
        `${docComment(`${where}: ${op.summary ?? ''}`)}${id}: { params: ${params}; query: ${query}; body: ${body}; answer: ${answer} };`,
      );
      const auth = (op.security ?? []).length > 0;
      table.push(`${id}: { method: '${method.toUpperCase()}', path: '${path}', status: ${success.status}, auth: ${auth} },`);
    }
  }
  out.push(
    '/** Every operation by its operationId: the types of its path parameters, query, body and answer (`never` where it has none). */',
    `export interface Operations {\n${entries.join('\n')}\n}`,
    '',
    '/** The name of an operation (its operationId). */',
    'export type OperationId = keyof Operations;',
    '',
    "/** Every operation's method, path (parameters in braces), success status, and whether it needs the project's credentials. */",
    `export const OPERATIONS = {\n${table.join('\n')}\n} as const satisfies Record<OperationId, { method: string; path: string; status: number; auth: boolean }>;`,
    '',
  );
  const options = await resolveConfig(CLIENT_TYPES_FILE);
  return format(out.join('\n'), { ...options, filepath: CLIENT_TYPES_FILE });
}
