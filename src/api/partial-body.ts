/*
 * From a subscribe body the schema refused, the known fields that passed it: a field is dropped
 * when an issue names it, one of its parents, or one of its children. What is kept has the types
 * the schema promises, so the semantic checks can run on it and report their issues too.
 */
import { HttpRequestBody, SubscribeConfig } from '../core/shapes.js';
import type { PartialSubscribeBody } from '../core/subscription.js';

/** Each section of the body with its fields, as the schema declares them. */
const SECTIONS = [
  ['httpRequest', Object.keys(HttpRequestBody.properties)],
  ['config', Object.keys(SubscribeConfig.properties)],
] as const satisfies ReadonlyArray<readonly [keyof PartialSubscribeBody, readonly string[]]>;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function validPart(body: unknown, issueFields: readonly string[]): PartialSubscribeBody {
  const clean = (path: string): boolean => !issueFields.some((f) => f === path || f.startsWith(`${path}.`) || path.startsWith(`${f}.`));
  const out: PartialSubscribeBody & Record<string, Record<string, unknown>> = {};
  if (!isObject(body) || issueFields.includes('body')) return {};
  for (const [section, fields] of SECTIONS) {
    const source = body[section];
    if (!isObject(source) || issueFields.includes(section)) continue;
    const kept: Record<string, unknown> = {};
    for (const field of fields) {
      if (Object.hasOwn(source, field) && clean(`${section}.${field}`)) kept[field] = source[field];
    }
    out[section] = kept;
  }
  return out;
}
