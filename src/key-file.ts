import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { deriveKey } from './core/sealed-request.js';
import type { AppConfig } from './config.js';
import type { Logger } from './logger.js';

/** The key that seals stored requests, and where it came from, in words for the start-up log. */
export interface EncryptionKey {
  key: Buffer;
  /** e.g. "TASKS_CRYPTO_KEY (environment)", "the key file /srv/data/tasks.key". */
  source: string;
}

/**
 * The key that seals stored requests. Configured (SERVICE.CRYPTO.KEY / TASKS_CRYPTO_KEY) it is
 * used as given; otherwise one is generated on first start and kept beside the database in
 * `tasks.key` (mode 0600), because a server that starts with zero configuration must still never
 * write a request in plain text. Lose that file and stored tasks can no longer be sent.
 */
export function resolveEncryptionKey(config: AppConfig, logger: Logger, cwd = process.cwd()): EncryptionKey {
  if (config.cryptoKey) {
    const source =
      config.from.cryptoKey === 'environment'
        ? 'TASKS_CRYPTO_KEY (environment)'
        : `SERVICE.CRYPTO.KEY (in ${config.configFile ?? 'the configuration file'})`;
    return { key: deriveKey(config.cryptoKey), source };
  }
  if (config.store.kind === 'sqlite' && config.store.path === ':memory:') {
    return { key: randomBytes(32), source: 'generated for this run (the in-memory store keeps nothing across runs)' };
  }
  const dir = config.store.kind === 'sqlite' ? dirname(config.store.path) : resolve(cwd, 'data');
  const file = join(dir, 'tasks.key');
  if (config.store.kind === 'redis') {
    // A key kept on one machine cannot be shared by the others: say so before it bites.
    logger.warn(
      { file },
      `the Redis store is shared, but no TASKS_CRYPTO_KEY is set: this server uses ${file}, and every server on this Redis needs the same key (set TASKS_CRYPTO_KEY on each)`,
    );
  }
  if (existsSync(file)) {
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) !== 0) logger.warn({ file, mode: mode.toString(8) }, 'the key file is readable by other users; chmod 600 it');
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
    if (key.length !== 32) throw new Error(`The key file ${file} does not hold a 32-byte key`);
    return { key, source: `the key file ${file}` };
  }
  mkdirSync(dir, { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, `${key.toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  logger.warn({ file }, 'generated a new key that encrypts stored requests; back it up, or set TASKS_CRYPTO_KEY');
  return { key, source: `the key file ${file}, generated now` };
}
