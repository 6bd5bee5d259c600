import type { StoreReport } from '../task-store.js';

/**
 * What a server can learn about Redis's durability without CONFIG (which the shipped `tasks` user
 * may not run): INFO and ACL WHOAMI. Each risk of losing acknowledged tasks becomes a warning in the
 * start-up log; docs/storage.md says what each one means.
 */

/** INFO's `field:value` lines as a map (section headers and blank lines skipped). */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** Facts and warnings from INFO (server, persistence, stats, memory) and the user logged in as. */
export function redisReport(info: ReadonlyMap<string, string>, user: string | null): StoreReport {
  const facts: StoreReport['facts'] = {
    redisVersion: info.get('redis_version') ?? 'unknown',
    user: user ?? 'unknown (ACL WHOAMI refused)',
    aof: info.get('aof_enabled') === '1',
  };
  const policy = info.get('maxmemory_policy');
  if (policy !== undefined) facts.maxmemoryPolicy = policy;
  const maxmemory = info.get('maxmemory');
  if (maxmemory !== undefined) facts.maxmemory = Number(maxmemory);
  const warnings: string[] = [];

  if (info.get('aof_enabled') !== '1') {
    warnings.push(
      'Redis has its append-only file off (aof_enabled:0): a Redis crash loses every task acknowledged since its last ' +
        'snapshot, or all of them without snapshots. Use resource/config/redis.conf (appendonly yes, appendfsync everysec).',
    );
  }
  for (const [field, what] of [
    ['aof_last_write_status', 'its last write to the append-only file'],
    ['aof_last_bgrewrite_status', 'its last rewrite of the append-only file'],
    ['rdb_last_bgsave_status', 'its last snapshot'],
  ] as const) {
    const status = info.get(field);
    if (status !== undefined && status !== 'ok') {
      warnings.push(`Redis reports ${what} failed (${field}:${status}): acknowledged tasks may not be on disk. See its log.`);
    }
  }
  const unexpected = Number(info.get('unexpected_error_replies') ?? 0);
  if (unexpected > 0) {
    warnings.push(
      `Redis answered ${unexpected} command(s) from its append-only file (or its master) with an error since it started ` +
        '(unexpected_error_replies): the writes they held were dropped when it loaded. See its log for the reason; the known ' +
        'cause is a default user without permissions (docs/storage.md).',
    );
  }
  if (policy !== undefined && policy !== 'noeviction') {
    warnings.push(
      `Redis may evict keys when it is full (maxmemory-policy ${policy}): tasks would vanish. Set maxmemory-policy noeviction.`,
    );
  }
  if (maxmemory === '0') {
    warnings.push(
      'Redis has no memory limit (maxmemory 0): when the machine runs out of memory the kernel kills Redis, losing the ' +
        'writes of its last second, instead of Redis refusing new tasks (503) while the ones it holds run. Set maxmemory ' +
        '(resource/config/redis.conf).',
    );
  }
  if (info.get('loading') === '1') warnings.push('Redis is still loading its data: routes answer STORE_UNAVAILABLE until it is done.');
  return { facts, warnings };
}
