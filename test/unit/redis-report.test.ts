import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseInfo, redisReport } from '../../src/store/redis/redis-report.js';

/** INFO as Redis 7.0 answers it, trimmed to the fields the report reads. */
const HEALTHY = [
  '# Server',
  'redis_version:7.0.15',
  '',
  '# Memory',
  'maxmemory:1073741824',
  'maxmemory_policy:noeviction',
  '',
  '# Persistence',
  'loading:0',
  'rdb_last_bgsave_status:ok',
  'aof_enabled:1',
  'aof_last_bgrewrite_status:ok',
  'aof_last_write_status:ok',
  '',
  '# Stats',
  'unexpected_error_replies:0',
  '',
].join('\r\n');

const report = (changes: Record<string, string>, user: string | null = 'tasks') => {
  const info = parseInfo(HEALTHY);
  for (const [field, value] of Object.entries(changes)) info.set(field, value);
  return redisReport(info, user);
};

describe('what a server reports about Redis at start', () => {
  test('a healthy Redis: facts, no warning', () => {
    assert.deepEqual(report({}), {
      facts: { redisVersion: '7.0.15', user: 'tasks', aof: true, maxmemoryPolicy: 'noeviction', maxmemory: 1073741824 },
      warnings: [],
    });
  });

  test('each risk to acknowledged tasks is one warning naming the INFO field', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ aof_enabled: '0' }, /aof_enabled:0/],
      [{ aof_last_write_status: 'err' }, /aof_last_write_status:err/],
      [{ aof_last_bgrewrite_status: 'err' }, /aof_last_bgrewrite_status:err/],
      [{ rdb_last_bgsave_status: 'err' }, /rdb_last_bgsave_status:err/],
      [{ unexpected_error_replies: '402' }, /answered 402 command\(s\).*unexpected_error_replies/],
      [{ maxmemory_policy: 'allkeys-lru' }, /maxmemory-policy allkeys-lru/],
      [{ maxmemory: '0' }, /no memory limit \(maxmemory 0\)/],
      [{ loading: '1' }, /still loading/],
    ];
    for (const [changes, expected] of cases) {
      const { warnings } = report(changes);
      assert.equal(warnings.length, 1, JSON.stringify(changes));
      assert.match(warnings[0]!, expected);
    }
  });

  test('a user that may not run ACL WHOAMI is reported as unknown', () => {
    assert.match(String(report({}, null).facts.user), /^unknown/);
  });
});
