/*
 * A request that failed its route's JSON Schema, turned into field issues: one
 * `{field, message}` per problem ajv reported (Fastify's ajv runs with allErrors, so all of them),
 * with messages written for the API's users rather than ajv's. The error handler uses it for every
 * route; subscribe uses it too, to add the semantic issues of the fields that passed before
 * answering.
 */
import type { FieldIssue } from '../core/errors.js';

/** One error as ajv reports it (Fastify passes them on unchanged). */
interface AjvError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
  /** Set on the errors of a `propertyNames` schema: the name that failed it. */
  propertyName?: string;
}

/**
 * What Fastify hands over when validation fails: the error it throws to the error handler, or
 * `request.validationError` on a route with `attachValidation`.
 */
export interface SchemaValidationFailure {
  validation: readonly AjvError[];
  /** The part of the request that failed: body, params, querystring or headers. */
  validationContext?: string;
}

export function isSchemaValidationFailure(error: unknown): error is SchemaValidationFailure {
  return typeof error === 'object' && error !== null && Array.isArray((error as { validation?: unknown }).validation);
}

const PATTERN_MESSAGES: Record<string, string> = {
  'httpRequest.data': 'must be a base64 string',
  'httpRequest.headers': 'header names are 1-64 characters of A-Z, a-z, 0-9 and -',
  'httpRequest.params': 'parameter names are 1-64 letters or digits',
  tags: 'a tag is 1-40 characters: a letter or digit, then letters, digits, ., _, : or -',
};

/** Fields whose type alone tells too little: what the value must be, in the API's words. */
const EPOCH_MS = 'must be an integer of epoch milliseconds (milliseconds since 1970-01-01 UTC), not a date string';
const TYPE_MESSAGES: Record<string, string> = {
  'httpRequest.data': 'must be a base64 string (the request body, encoded)',
  'config.executionAt': EPOCH_MS,
  'config.retryAt': EPOCH_MS,
  'config.repeatAt': EPOCH_MS,
};

function quote(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
}

/** A field name as written in messages: as sent (the body limit bounds its length), `""` when empty. */
function segment(name: string): string {
  return name === '' ? '""' : name;
}

function fieldOf(context: string, instancePath: string): string {
  const path = instancePath
    .split('/')
    .slice(1)
    .map((p) => segment(p.replace(/~1/g, '/').replace(/~0/g, '~')))
    .join('.');
  if (context === 'body') return path || 'body';
  return path ? `${context}.${path}` : context;
}

/** The field issues of a failed validation, each once, in the order ajv found them. */
export function validationIssues(failure: SchemaValidationFailure): FieldIssue[] {
  const context = failure.validationContext ?? 'body';
  const issues: FieldIssue[] = [];
  for (const e of failure.validation) {
    if (e.keyword === 'propertyNames' || e.keyword === 'if') continue; // the inner error says more
    const field = fieldOf(context, e.instancePath);
    const p = e.params;
    let issue: FieldIssue;
    if (e.propertyName !== undefined) {
      issue = { field, message: `${quote(e.propertyName)}: ${PATTERN_MESSAGES[field] ?? 'is not an allowed name'}` };
    } else {
      switch (e.keyword) {
        case 'required': {
          const name = segment(String(p.missingProperty));
          issue = { field: field === 'body' ? name : `${field}.${name}`, message: 'is required' };
          break;
        }
        case 'additionalProperties': {
          const name = segment(String(p.additionalProperty));
          issue = { field: field === 'body' ? name : `${field}.${name}`, message: 'is not a known field' };
          break;
        }
        case 'type': {
          const types = ([] as unknown[]).concat(p.type).map(String);
          const names = types.map((t) => (t === 'integer' || t === 'object' || t === 'array' ? `an ${t}` : `a ${t}`));
          issue = { field, message: TYPE_MESSAGES[field] ?? `must be ${names.join(' or ')}` };
          break;
        }
        case 'enum':
          issue = { field, message: `must be one of ${(p.allowedValues as unknown[]).join(', ')}` };
          break;
        case 'minLength':
          issue = { field, message: Number(p.limit) <= 1 ? 'must not be empty' : `must be at least ${String(p.limit)} characters` };
          break;
        case 'maxLength':
          issue = { field, message: `must be at most ${String(p.limit)} characters` };
          break;
        case 'minimum':
        case 'maximum':
          issue = { field, message: `must be ${e.keyword === 'minimum' ? '≥' : '≤'} ${String(p.limit)}` };
          break;
        case 'minItems':
          issue = { field, message: `must have at least ${String(p.limit)} ${Number(p.limit) === 1 ? 'item' : 'items'}` };
          break;
        case 'maxItems':
          issue = { field, message: `must have at most ${String(p.limit)} items` };
          break;
        case 'maxProperties':
          issue = { field, message: `must have at most ${String(p.limit)} entries` };
          break;
        case 'uniqueItems':
          issue = { field, message: 'must not hold the same value twice' };
          break;
        case 'pattern': {
          const parent = field.split('.').slice(0, 2).join('.');
          issue = {
            field,
            message: field.startsWith('httpRequest.headers.')
              ? 'must not contain CR, LF, NUL or other control characters, nor characters beyond Latin-1'
              : (PATTERN_MESSAGES[field] ??
                PATTERN_MESSAGES[parent] ??
                PATTERN_MESSAGES[field.split('.')[0]!] ??
                'has a form that is not allowed'),
          };
          break;
        }
        default:
          issue = { field, message: e.message ?? 'is not valid' };
      }
    }
    if (!issues.some((i) => i.field === issue.field && i.message === issue.message)) issues.push(issue);
  }
  return issues;
}
