import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The bench's redis-server runs as users are told to run theirs, minus what only a deployment needs
 * (address, ACL, data folder): the performance settings of resource/config/redis.conf are passed on
 * its command line. Persistence stays with `--redis-persistence`, which mirrors the same file.
 */
const MIRRORED = ['hash-max-listpack-value', 'hash-max-listpack-entries', 'rdbcompression'];

export function redisConfTuning(repo: string): string[] {
  const conf = readFileSync(join(repo, 'resource/config/redis.conf'), 'utf8');
  const args: string[] = [];
  for (const line of conf.split('\n')) {
    const [name, ...values] = line.trim().split(/\s+/);
    if (name && MIRRORED.includes(name)) args.push(`--${name}`, ...values);
  }
  return args;
}
