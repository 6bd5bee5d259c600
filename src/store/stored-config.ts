import { checkRetryPolicy } from '../core/retry-policy.js';
import { CALLBACK_EVENTS, type CallbackConfig } from '../core/shapes.js';
import type { TaskConfig } from '../core/task.js';

/*
 * A task's effective configuration as stores hold it: JSON of the fields that differ from
 * STORED_CONFIG_BASE. Most tasks keep most defaults, so a stored config is a few fields, not eleven.
 * The base is part of the storage format, apart from the API's defaults on purpose: a default may
 * change without changing what stored tasks mean. A config stored whole (as before this format)
 * reads the same. Object fields are kept as their JSON: `callback` when not null, `retryPolicy`
 * (absent by default, so outside the base) when present.
 */

/** Never change a value here: stored configs leave out the fields equal to it. Add new fields at will. */
export const STORED_CONFIG_BASE: Readonly<TaskConfig> = Object.freeze({
  executionDelay: 1,
  executionAt: 0,
  retry: 0,
  retryInterval: 1_000,
  retryExponential: true,
  retryAt: 0,
  repeat: 0,
  repeatInterval: 1_000,
  repeatExponential: true,
  repeatAt: 0,
  timeout: 300_000,
  callback: null,
});

type BaseKey = Exclude<keyof TaskConfig, 'retryPolicy'>;
const KEYS = Object.keys(STORED_CONFIG_BASE) as BaseKey[];

export function encodeConfig(config: TaskConfig): string {
  let out = '';
  for (const key of KEYS) {
    const value = config[key];
    if (value !== STORED_CONFIG_BASE[key]) {
      out += `${out === '' ? '{' : ','}"${key}":${typeof value === 'object' ? JSON.stringify(value) : String(value)}`;
    }
  }
  if (config.retryPolicy) out += `${out === '' ? '{' : ','}"retryPolicy":${JSON.stringify(config.retryPolicy)}`;
  return out === '' ? '{}' : `${out}}`;
}

/** A stored record is input too: unknown fields and wrong types are refused. */
export function decodeConfig(json: string, taskId: string): TaskConfig {
  const stored = JSON.parse(json) as unknown;
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored))
    throw new Error(`Stored task ${taskId} has a config that is not an object`);
  const config: TaskConfig = { ...STORED_CONFIG_BASE };
  for (const [key, value] of Object.entries(stored)) {
    if (key === 'retryPolicy') {
      const policy = checkRetryPolicy(value);
      if (!policy) throw new Error(`Stored task ${taskId} has a bad config field ${key}`);
      config.retryPolicy = policy;
      continue;
    }
    const base = (STORED_CONFIG_BASE as Record<string, unknown>)[key];
    const ok =
      key === 'callback' ? isCallback(value) : typeof base === 'boolean' ? typeof value === 'boolean' : Number.isSafeInteger(value);
    if (base === undefined || !ok) throw new Error(`Stored task ${taskId} has a bad config field ${key}`);
    (config as unknown as Record<string, unknown>)[key] = value;
  }
  return config;
}

function isCallback(value: unknown): value is CallbackConfig | null {
  if (value === null) return true;
  if (typeof value !== 'object' || Array.isArray(value)) return false;
  const { url, on, ...rest } = value as Record<string, unknown>;
  return (
    typeof url === 'string' &&
    Array.isArray(on) &&
    on.every((e) => (CALLBACK_EVENTS as readonly unknown[]).includes(e)) &&
    Object.keys(rest).length === 0
  );
}
