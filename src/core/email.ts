import { LIMITS } from './limits.js';

/*
 * A practical email check: one @, a local part of printable characters without spaces, a domain
 * of dot-separated labels with a TLD. Addresses are compared in lower case.
 */

const EMAIL =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,63}$/;

export function normaliseEmail(raw: string): string | null {
  if (raw.length > LIMITS.emailLength || !EMAIL.test(raw)) return null;
  const [local] = raw.split('@');
  if (!local || local.startsWith('.') || local.endsWith('.') || local.includes('..')) return null;
  return raw.toLowerCase();
}
