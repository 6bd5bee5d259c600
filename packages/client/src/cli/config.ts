/*
 * Where the CLI finds the server, the project and its token. Each of the three is taken from the
 * first place that has it:
 *
 *   url:     --server, KUUERI_TASKS_URL, the config file's "url", http://localhost:8202
 *   project: KUUERI_TASKS_PROJECT, the config file's "project"
 *   token:   KUUERI_TASKS_TOKEN, the config file's "token"
 *
 * The config file is --config, else KUUERI_TASKS_CONFIG, else
 * $XDG_CONFIG_HOME/kuueri-tasks/config.json ($XDG_CONFIG_HOME defaults to ~/.config): a JSON
 * object `{"url", "project", "token"}`, every key optional; a missing file is an empty one.
 * `register --save` writes it, readable by its owner alone (0600).
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UsageError } from './usage-error.js';

/** The server a fresh `npm start` listens on. */
export const DEFAULT_URL = 'http://localhost:8202';

/** The environment variables the CLI reads. */
export const ENV = {
  url: 'KUUERI_TASKS_URL',
  project: 'KUUERI_TASKS_PROJECT',
  token: 'KUUERI_TASKS_TOKEN',
  config: 'KUUERI_TASKS_CONFIG',
} as const;

/** What the config file may hold. */
export interface ConfigFile {
  url?: string;
  project?: string;
  token?: string;
}

export interface Settings {
  url: string;
  project: string | undefined;
  token: string | undefined;
  /** The config file read (it may not exist), and the one `register --save` writes. */
  configPath: string;
}

export type Environment = Readonly<Record<string, string | undefined>>;

/** The config file's path: the flag, the environment, or the default under the user's config folder. */
export function configPathOf(flag: string | undefined, env: Environment, home: string): string {
  const given = flag ?? nonEmpty(env[ENV.config]);
  if (given !== undefined) return given;
  return join(nonEmpty(env.XDG_CONFIG_HOME) ?? join(home, '.config'), 'kuueri-tasks', 'config.json');
}

/** The settings from the flags, the environment and the config file, in that order. */
export function resolveSettings(flags: { server?: string; config?: string }, env: Environment, home: string): Settings {
  const configPath = configPathOf(flags.config, env, home);
  const file = readConfigFile(configPath);
  return {
    url: flags.server ?? nonEmpty(env[ENV.url]) ?? file.url ?? DEFAULT_URL,
    project: nonEmpty(env[ENV.project]) ?? file.project,
    token: nonEmpty(env[ENV.token]) ?? file.token,
    configPath,
  };
}

/** The config file's settings; a missing file holds none. */
export function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new UsageError(`cannot read the config file ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The message of JSON.parse may quote the file, and the file holds the token.
    throw new UsageError(`the config file ${path} is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`the config file ${path} must hold a JSON object`);
  }
  const config: ConfigFile = {};
  for (const key of ['url', 'project', 'token'] as const) {
    const value = (parsed as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value === '') throw new UsageError(`"${key}" in the config file ${path} must be a non-empty string`);
    config[key] = value;
  }
  return config;
}

/**
 * Writes `settings` into the config file, keeping what else it holds, readable by its owner alone:
 * a new file is made with mode 0600 and renamed over the old one, so the token is never readable
 * by others, not even for a moment.
 */
export function saveConfigFile(path: string, settings: ConfigFile): void {
  let existing: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) existing = parsed as Record<string, unknown>;
  } catch {
    // No file, or not one to keep: written anew.
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify({ ...existing, ...settings }, null, 2)}\n`, { mode: 0o600 });
  // The mode given to writeFileSync is narrowed by the umask, never widened; chmod makes it exact.
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
