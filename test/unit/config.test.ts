import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type AppConfig, ConfigError, DEFAULT_CONFIG_FILE, SETTINGS, loadConfig, parseStoreUrl, secretSourceOf } from '../../src/config.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) removeDir(dir);
});

/** A fresh working directory, optionally with resource/config/config.json holding `file`. */
function workdir(file?: unknown): string {
  const dir = makeTempDir('config');
  dirs.push(dir);
  if (file !== undefined) writeConfig(dir, DEFAULT_CONFIG_FILE, file);
  return dir;
}

function writeConfig(dir: string, relative: string, content: unknown): string {
  const path = join(dir, relative);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

/** The problems of the ConfigError loadConfig throws; fails when it throws nothing or something else. */
function problemsOf(env: NodeJS.ProcessEnv, cwd: string): string[] {
  try {
    loadConfig(env, cwd);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.name, 'ConfigError');
    for (const problem of error.problems) assert.ok(error.message.includes(problem), `message lists ${problem}`);
    return error.problems;
  }
  assert.fail('expected a ConfigError, but the configuration loaded');
}

function hasProblem(problems: string[], pattern: RegExp): void {
  assert.ok(
    problems.some((p) => pattern.test(p)),
    `no problem matches ${pattern}: ${JSON.stringify(problems)}`,
  );
}

describe('loadConfig: defaults', () => {
  test('nothing set: documented defaults, sqlite at <cwd>/data/tasks.db', () => {
    const cwd = workdir();
    const config = loadConfig({}, cwd);
    assert.deepEqual(config.store, { kind: 'sqlite', path: join(cwd, 'data', 'tasks.db') });
    assert.equal(config.port, 8202);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.level, 'DEVELOPMENT');
    assert.equal(config.queueLimit, 1000);
    assert.equal(config.throttleTtl, 86400);
    assert.equal(config.throttleLimit, 0, 'no per-project request limit unless set');
    assert.equal(config.retentionSeconds, 259200);
    assert.equal(config.maxBodyLength, 131072);
    assert.equal(config.maxContentLength, 131072);
    assert.deepEqual(config.trustProxy, []);
    assert.equal(config.headersTimeoutMs, 10_000);
    assert.equal(config.requestTimeoutMs, 30_000);
    assert.equal(config.keepAliveTimeoutMs, 72_000);
    assert.equal(config.maxConnections, 4096);
    assert.equal(config.cryptoKey, null);
    assert.equal(config.databaseUrl, null);
    assert.deepEqual(config.allowTargets, []);
    assert.deepEqual(config.allowList, { cidrs: [], hosts: [], invalid: [] });
    assert.deepEqual(config.denyList, { cidrs: [], hosts: [], invalid: [] });
    assert.deepEqual(config.dnsServers, [], "the system's DNS servers");
    assert.equal(config.dnsTimeoutMs, 5_000);
    assert.equal(config.configFile, null);
    assert.deepEqual(config.from, {}, 'nothing came from the file or the environment');
  });

  test('from says where each set value came from: the file, or the environment over it', () => {
    const config = loadConfig({ PORT: '9100', TASKS_CRYPTO_KEY: 'k'.repeat(32) }, workdir({ PORT: 9000, LEVEL: 'PRODUCTION' }));
    assert.deepEqual(config.from, { port: 'environment', level: 'file', cryptoKey: 'environment' });
  });

  test('every setting takes its default from SETTINGS', () => {
    const config = loadConfig({}, workdir());
    for (const [name, setting] of Object.entries(SETTINGS)) {
      assert.deepEqual(config[name as keyof AppConfig], setting.default, name);
    }
  });

  test('empty environment values count as unset', () => {
    const config = loadConfig({ PORT: '', TASKS_DB: '', TASKS_QUEUE_LIMIT: '', TASKS_LEVEL: '' }, workdir());
    assert.equal(config.port, 8202);
    assert.equal(config.queueLimit, 1000);
    assert.equal(config.store.kind, 'sqlite');
  });
});

describe('loadConfig: the configuration file', () => {
  test('resource/config/config.json is read when present', () => {
    const cwd = workdir({
      PORT: 9000,
      LEVEL: 'PRODUCTION',
      MODULE: { HTTP: { MAX_BODY_LENGTH: 65536 }, THROTTLER: { TTL: 60, LIMIT: 100 } },
      SERVICE: { QUEUE: { LIMIT: 50 }, CRYPTO: { KEY: 'k'.repeat(32) }, TARGETS: { ALLOW: ['127.0.0.0/8', 'dev.internal'] } },
      DATABASE: { REDIS: { EXPIRATION_KEY: 3600 } },
    });
    const config = loadConfig({}, cwd);
    assert.equal(config.configFile, join(cwd, 'resource', 'config', 'config.json'));
    assert.equal(config.port, 9000);
    assert.equal(config.level, 'PRODUCTION');
    assert.equal(config.maxBodyLength, 65536);
    assert.equal(config.throttleTtl, 60);
    assert.equal(config.throttleLimit, 100);
    assert.equal(config.queueLimit, 50);
    assert.equal(config.cryptoKey, 'k'.repeat(32));
    assert.equal(config.retentionSeconds, 3600);
    assert.deepEqual(config.allowList.hosts, [{ name: 'dev.internal', port: null }]);
    assert.equal(config.allowList.cidrs.length, 1);
  });

  test('TASKS_CONFIG points elsewhere, relative to cwd or absolute', () => {
    const cwd = workdir({ PORT: 1111 });
    writeConfig(cwd, 'custom/tasks.json', { PORT: 2222 });
    const relative = loadConfig({ TASKS_CONFIG: 'custom/tasks.json' }, cwd);
    assert.equal(relative.port, 2222);
    assert.equal(relative.configFile, join(cwd, 'custom', 'tasks.json'));
    const elsewhere = workdir();
    const absolute = writeConfig(elsewhere, 'x.json', { PORT: 3333 });
    assert.equal(loadConfig({ TASKS_CONFIG: absolute }, cwd).port, 3333);
  });

  test('a missing TASKS_CONFIG file is an error', () => {
    const cwd = workdir({ PORT: 1111 });
    const problems = problemsOf({ TASKS_CONFIG: 'nope.json' }, cwd);
    assert.equal(problems.length, 1);
    hasProblem(problems, /^TASKS_CONFIG: file .*nope\.json does not exist$/);
  });

  test('a file that is not JSON, or not a JSON object, is an error', () => {
    hasProblem(problemsOf({}, workdir('{"PORT": 9000,')), /not valid JSON/);
    hasProblem(problemsOf({}, workdir('[1, 2]')), /must hold a JSON object/);
    hasProblem(problemsOf({}, workdir('null')), /must hold a JSON object/);
    hasProblem(problemsOf({}, workdir('"PORT"')), /must hold a JSON object/);
  });

  test('unknown keys are reported with their dotted path', () => {
    const problems = problemsOf(
      {},
      workdir({ PORTT: 1, MODULE: { HTTP: { MAX_BODY: 1 }, CACHE: {} }, DATABASE: { REDIS: { DB: 0 } }, port: 8202 }),
    );
    assert.deepEqual([...problems].sort(), [
      'DATABASE.REDIS.DB: unknown key in the configuration file',
      'MODULE.CACHE: unknown key in the configuration file',
      'MODULE.HTTP.MAX_BODY: unknown key in the configuration file',
      'PORTT: unknown key in the configuration file',
      'port: unknown key in the configuration file',
    ]);
  });

  test('a key below a leaf setting is unknown, and the setting itself is refused', () => {
    const problems = problemsOf({}, workdir({ PORT: { VALUE: 9000 } }));
    hasProblem(problems, /^PORT\.VALUE: unknown key/);
    hasProblem(problems, /^PORT \(in .*\): must be an integer/);
  });

  test('a section that is not an object is reported, not silently ignored', () => {
    for (const file of [{ MODULE: 5 }, { DATABASE: null }, { SERVICE: { QUEUE: 'big' } }, { MODULE: { THROTTLER: [] } }]) {
      assert.throws(() => loadConfig({}, workdir(file)), ConfigError, JSON.stringify(file));
    }
  });

  test('wrong types in the file are refused (no string-to-number coercion there)', () => {
    const problems = problemsOf({}, workdir({ PORT: '9000', TRUST_PROXY: 5, SERVICE: { QUEUE: { LIMIT: 1.5 } } }));
    hasProblem(problems, /^PORT \(in .*config\.json\): must be an integer/);
    hasProblem(problems, /^TRUST_PROXY \(in .*\): must be a comma-separated string or an array of strings/);
    hasProblem(problems, /^SERVICE\.QUEUE\.LIMIT \(in .*\): must be an integer/);
    assert.equal(problems.length, 3);
  });
});

describe('loadConfig: environment', () => {
  test('environment overrides file overrides default', () => {
    const cwd = workdir({ PORT: 9000, MODULE: { THROTTLER: { TTL: 60, LIMIT: 100 } } });
    const config = loadConfig({ PORT: '9100', TASKS_THROTTLE_LIMIT: '5' }, cwd);
    assert.equal(config.port, 9100, 'env over file');
    assert.equal(config.throttleLimit, 5, 'env over file');
    assert.equal(config.throttleTtl, 60, 'file over default');
    assert.equal(config.queueLimit, 1000, 'default');
  });

  test('each variable reaches its setting', () => {
    const config = loadConfig(
      {
        PORT: '8080',
        HOST: '127.0.0.1',
        TASKS_LEVEL: 'PRODUCTION',
        TASKS_LOG_LEVEL: 'debug',
        TASKS_TRUST_PROXY: '10.0.0.2, 10.1.0.0/16',
        TASKS_MAX_BODY_LENGTH: '2048',
        TASKS_HEADERS_TIMEOUT_MS: '2000',
        TASKS_REQUEST_TIMEOUT_MS: '4000',
        TASKS_KEEP_ALIVE_TIMEOUT_MS: '3000',
        TASKS_MAX_CONNECTIONS: '50',
        TASKS_MAX_CONTENT_LENGTH: '0',
        TASKS_THROTTLE_TTL: '60',
        TASKS_THROTTLE_LIMIT: '10',
        TASKS_REGISTER_TTL: '120',
        TASKS_REGISTER_LIMIT: '3',
        TASKS_QUEUE_LIMIT: '5',
        TASKS_CRYPTO_KEY: 'p'.repeat(40),
        TASKS_ALLOW_TARGETS: '127.0.0.0/8, localhost',
        TASKS_DENY_TARGETS: '127.0.0.1:6379, [::1]:6379',
        TASKS_DNS_SERVERS: '127.0.0.1:5353, [::1]:53, 1.1.1.1',
        TASKS_DNS_TIMEOUT_MS: '1500',
        TASKS_CONCURRENCY: '4',
        TASKS_LEASE_MS: '2000',
        TASKS_SHUTDOWN_GRACE_MS: '0',
        TASKS_SQLITE_SYNCHRONOUS: 'FULL',
        TASKS_RETENTION: '60',
      },
      workdir(),
    );
    assert.equal(config.port, 8080);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.level, 'PRODUCTION');
    assert.equal(config.logLevel, 'debug');
    assert.deepEqual(config.trustProxy, ['10.0.0.2', '10.1.0.0/16']);
    assert.equal(config.maxBodyLength, 2048);
    assert.equal(config.headersTimeoutMs, 2000);
    assert.equal(config.requestTimeoutMs, 4000);
    assert.equal(config.keepAliveTimeoutMs, 3000);
    assert.equal(config.maxConnections, 50);
    assert.equal(config.maxContentLength, 0);
    assert.equal(config.throttleTtl, 60);
    assert.equal(config.throttleLimit, 10);
    assert.equal(config.registerTtl, 120);
    assert.equal(config.registerLimit, 3);
    assert.equal(config.queueLimit, 5);
    assert.equal(config.cryptoKey, 'p'.repeat(40));
    assert.deepEqual(config.allowTargets, ['127.0.0.0/8', 'localhost']);
    assert.deepEqual(config.allowList.hosts, [{ name: 'localhost', port: null }]);
    assert.deepEqual(config.denyTargets, ['127.0.0.1:6379', '[::1]:6379']);
    assert.deepEqual(
      config.denyList.cidrs.map((entry) => entry.port),
      [6379, 6379],
    );
    assert.deepEqual(config.dnsServers, ['127.0.0.1:5353', '[::1]:53', '1.1.1.1']);
    assert.equal(config.dnsTimeoutMs, 1500);
    assert.equal(config.concurrency, 4);
    assert.equal(config.leaseMs, 2000);
    assert.equal(config.shutdownGraceMs, 0);
    assert.equal(config.sqliteSynchronous, 'FULL');
    assert.equal(config.retentionSeconds, 60);
  });

  test('integers: surrounding spaces are fine; signs, decimals, words and out-of-range values are not', () => {
    assert.equal(loadConfig({ PORT: ' 8080 ' }, workdir()).port, 8080);
    assert.equal(loadConfig({ PORT: '0' }, workdir()).port, 0);
    assert.equal(loadConfig({ PORT: '65535' }, workdir()).port, 65535);
    for (const [value, message] of [
      ['abc', /must be an integer/],
      ['80.5', /must be an integer/],
      ['1e3', /must be an integer/],
      ['0x50', /must be an integer/],
      ['65536', /between 0 and 65535/],
      ['-1', /between 0 and 65535/],
      ['99999999999999999999', /must be an integer/],
    ] as const) {
      const problems = problemsOf({ PORT: value }, workdir());
      assert.equal(problems.length, 1, value);
      assert.match(problems[0]!, /^PORT \(environment\): /, value);
      assert.match(problems[0]!, message, value);
    }
  });

  test('enumerations are checked', () => {
    hasProblem(problemsOf({ TASKS_LEVEL: 'STAGING' }, workdir()), /^TASKS_LEVEL \(environment\): must be one of DEVELOPMENT, PRODUCTION/);
    hasProblem(problemsOf({ TASKS_LOG_LEVEL: 'verbose' }, workdir()), /^TASKS_LOG_LEVEL/);
    hasProblem(problemsOf({ TASKS_SQLITE_SYNCHRONOUS: 'OFF' }, workdir()), /^TASKS_SQLITE_SYNCHRONOUS/);
  });

  test('a crypto key shorter than 32 characters is refused', () => {
    hasProblem(
      problemsOf({ TASKS_CRYPTO_KEY: 'short' }, workdir()),
      /^TASKS_CRYPTO_KEY \(environment\): must be a string of at least 32 characters/,
    );
    assert.equal(loadConfig({ TASKS_CRYPTO_KEY: 'x'.repeat(32) }, workdir()).cryptoKey, 'x'.repeat(32));
  });

  test('invalid TASKS_ALLOW_TARGETS entries are each reported', () => {
    const problems = problemsOf({ TASKS_ALLOW_TARGETS: '127.0.0.0/8,not a host!,10.0.0.0/99,,localhost' }, workdir());
    assert.deepEqual(problems, [
      'TASKS_ALLOW_TARGETS: "not a host!" is not a CIDR, an IP address or a host name (with an optional :port)',
      'TASKS_ALLOW_TARGETS: "10.0.0.0/99" is not a CIDR, an IP address or a host name (with an optional :port)',
    ]);
  });

  test('invalid TASKS_DENY_TARGETS entries and DNS servers are each reported', () => {
    const problems = problemsOf(
      { TASKS_DENY_TARGETS: '127.0.0.1:6379,127.0.0.1:99999', TASKS_DNS_SERVERS: '1.1.1.1,dns.example,[::1]:53' },
      workdir(),
    );
    assert.deepEqual(problems, [
      'TASKS_DENY_TARGETS: "127.0.0.1:99999" is not a CIDR, an IP address or a host name (with an optional :port)',
      'TASKS_DNS_SERVERS: "dns.example" is not an IP address with an optional port (e.g. 1.1.1.1, 127.0.0.1:5353, [::1]:53)',
    ]);
  });

  test('the file allow list must be strings', () => {
    hasProblem(
      problemsOf({}, workdir({ SERVICE: { TARGETS: { ALLOW: [1, 2] } } })),
      /^SERVICE\.TARGETS\.ALLOW \(in .*\): must be a comma-separated string or an array of strings/,
    );
    assert.deepEqual(loadConfig({}, workdir({ SERVICE: { TARGETS: { ALLOW: '10.0.0.0/8, ::1' } } })).allowTargets, ['10.0.0.0/8', '::1']);
  });

  test('the environment is read only from the object given', () => {
    // PORT in this object, not in process.env, decides.
    assert.equal(loadConfig({ PORT: '4321' }, workdir()).port, 4321);
    assert.equal(loadConfig({}, workdir()).port, 8202);
  });
});

describe('loadConfig: TRUST_PROXY', () => {
  const EVERY_HOP =
    /would trust every hop, so any client could choose its own address with X-Forwarded-For; list the addresses or CIDRs of your proxies instead/;

  test('takes addresses and CIDRs, IPv4 and IPv6, as a list in the environment or an array in the file', () => {
    assert.deepEqual(loadConfig({ TASKS_TRUST_PROXY: ' 10.0.0.2 ,10.1.0.0/16,,fd00::/8, ::1 ' }, workdir()).trustProxy, [
      '10.0.0.2',
      '10.1.0.0/16',
      'fd00::/8',
      '::1',
    ]);
    assert.deepEqual(loadConfig({}, workdir({ TRUST_PROXY: ['192.0.2.1', '::ffff:10.0.0.0/104'] })).trustProxy, [
      '192.0.2.1',
      '::ffff:10.0.0.0/104',
    ]);
    assert.deepEqual(loadConfig({}, workdir({ TRUST_PROXY: '192.0.2.1, 192.0.2.2' })).trustProxy, ['192.0.2.1', '192.0.2.2']);
  });

  test('false (the seed flag) means no proxy', () => {
    for (const value of ['false', 'FALSE', '0', ' false ']) {
      assert.deepEqual(loadConfig({ TASKS_TRUST_PROXY: value }, workdir()).trustProxy, [], value);
    }
    assert.deepEqual(loadConfig({}, workdir({ TRUST_PROXY: false })).trustProxy, []);
  });

  test('true is refused, with what to write instead, in the environment and in the file', () => {
    for (const value of ['true', 'TRUE', '1', ' true ']) {
      const problems = problemsOf({ TASKS_TRUST_PROXY: value }, workdir());
      assert.equal(problems.length, 1, value);
      assert.match(problems[0]!, /^TASKS_TRUST_PROXY \(environment\): true /, value);
      assert.match(problems[0]!, EVERY_HOP, value);
      assert.match(problems[0]!, /e\.g\. TASKS_TRUST_PROXY=10\.0\.0\.2,10\.1\.0\.0\/16$/, value);
    }
    const file = problemsOf({}, workdir({ TRUST_PROXY: true }));
    assert.equal(file.length, 1);
    assert.match(file[0]!, /^TRUST_PROXY \(in .*config\.json\): true /);
    assert.match(file[0]!, EVERY_HOP);
    assert.match(file[0]!, /e\.g\. "TRUST_PROXY": \["10\.0\.0\.2", "10\.1\.0\.0\/16"\]$/);
  });

  test('a range of every address is refused like true', () => {
    for (const value of ['0.0.0.0/0', '10.0.0.2,::/0', '::ffff:0.0.0.0/96']) {
      const problems = problemsOf({ TASKS_TRUST_PROXY: value }, workdir());
      assert.equal(problems.length, 1, value);
      assert.match(problems[0]!, EVERY_HOP, value);
    }
  });

  test('entries that are not an address or a CIDR are all named', () => {
    const problems = problemsOf(
      { TASKS_TRUST_PROXY: '10.0.0.2,proxy.internal,10.0.0.0/33,127.1,10.0.0.1:80,010.0.0.1,fd00::/129' },
      workdir(),
    );
    assert.deepEqual(problems, [
      'TASKS_TRUST_PROXY (environment): "proxy.internal", "10.0.0.0/33", "127.1", "10.0.0.1:80", "010.0.0.1", "fd00::/129": not an IP address or a CIDR',
    ]);
  });
});

describe('loadConfig: API connections', () => {
  test('timeouts and the connection limit are range-checked', () => {
    for (const [name, value] of [
      ['TASKS_HEADERS_TIMEOUT_MS', '0'],
      ['TASKS_REQUEST_TIMEOUT_MS', '99'],
      ['TASKS_KEEP_ALIVE_TIMEOUT_MS', '0'],
      ['TASKS_KEEP_ALIVE_TIMEOUT_MS', '600001'],
      ['TASKS_MAX_CONNECTIONS', '0'],
      ['TASKS_MAX_CONNECTIONS', 'many'],
    ] as const) {
      const problems = problemsOf({ [name]: value }, workdir());
      assert.equal(problems.length, 1, `${name}=${value}: ${JSON.stringify(problems)}`);
      assert.match(problems[0]!, new RegExp(`^${name} \\(environment\\): must be`), `${name}=${value}`);
    }
  });

  test('the file sets them under MODULE.HTTP', () => {
    const config = loadConfig(
      {},
      workdir({ MODULE: { HTTP: { HEADERS_TIMEOUT_MS: 500, REQUEST_TIMEOUT_MS: 900, KEEP_ALIVE_TIMEOUT_MS: 700, MAX_CONNECTIONS: 3 } } }),
    );
    assert.deepEqual(
      [config.headersTimeoutMs, config.requestTimeoutMs, config.keepAliveTimeoutMs, config.maxConnections],
      [500, 900, 700, 3],
    );
  });

  test('the headers may not take longer than the whole request', () => {
    assert.deepEqual(problemsOf({ TASKS_HEADERS_TIMEOUT_MS: '5000', TASKS_REQUEST_TIMEOUT_MS: '4000' }, workdir()), [
      'MODULE.HTTP.HEADERS_TIMEOUT_MS / TASKS_HEADERS_TIMEOUT_MS: 5000 must not exceed the request timeout (4000)',
    ]);
    // Against the default header timeout, too.
    hasProblem(problemsOf({ TASKS_REQUEST_TIMEOUT_MS: '5000' }, workdir()), /10000 must not exceed the request timeout \(5000\)/);
    assert.equal(loadConfig({ TASKS_HEADERS_TIMEOUT_MS: '4000', TASKS_REQUEST_TIMEOUT_MS: '4000' }, workdir()).requestTimeoutMs, 4000);
  });
});

describe('loadConfig: every problem at once', () => {
  test('bad PORT, bad TASKS_THROTTLE_LIMIT, an unknown file key and a bad TASKS_DB in one error', () => {
    const cwd = workdir({ PORT: 9000, NOT_A_SETTING: true });
    const problems = problemsOf({ PORT: 'eighty', TASKS_THROTTLE_LIMIT: '-1', TASKS_DB: 'mysql://root@db/tasks' }, cwd);
    assert.equal(problems.length, 4, JSON.stringify(problems));
    hasProblem(problems, /^PORT \(environment\): must be an integer$/);
    hasProblem(problems, /^TASKS_THROTTLE_LIMIT \(environment\): must be between 0 and 1000000000$/);
    hasProblem(problems, /^NOT_A_SETTING: unknown key in the configuration file$/);
    hasProblem(problems, /^TASKS_DB \/ DATABASE\.URL: .* must start with sqlite: or redis:\/\/ or rediss:\/\/$/);
  });

  test('problems in the file and the environment for the same setting are both reported', () => {
    const problems = problemsOf({ TASKS_QUEUE_LIMIT: '0' }, workdir({ SERVICE: { QUEUE: { LIMIT: 'many' } } }));
    hasProblem(problems, /^SERVICE\.QUEUE\.LIMIT \(in /);
    hasProblem(problems, /^TASKS_QUEUE_LIMIT \(environment\)/);
  });

  test('the message lists every problem', () => {
    try {
      loadConfig({ PORT: 'x', TASKS_RETENTION: '0' }, workdir());
      assert.fail('expected a ConfigError');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /^Invalid configuration:\n {2}- PORT .*\n {2}- TASKS_RETENTION /);
    }
  });
});

describe('loadConfig: the store', () => {
  test('sqlite URLs: relative to cwd, absolute, in memory', () => {
    const cwd = workdir();
    assert.deepEqual(loadConfig({ TASKS_DB: 'sqlite:./var/t.db' }, cwd).store, { kind: 'sqlite', path: join(cwd, 'var', 't.db') });
    assert.deepEqual(loadConfig({ TASKS_DB: 'sqlite:var/t.db' }, cwd).store, { kind: 'sqlite', path: join(cwd, 'var', 't.db') });
    assert.deepEqual(loadConfig({ TASKS_DB: 'sqlite:///srv/tasks/t.db' }, cwd).store, { kind: 'sqlite', path: '/srv/tasks/t.db' });
    assert.deepEqual(loadConfig({ TASKS_DB: 'sqlite::memory:' }, cwd).store, { kind: 'sqlite', path: ':memory:' });
  });

  test('a sqlite URL without a path is an error', () => {
    hasProblem(problemsOf({ TASKS_DB: 'sqlite:' }, workdir()), /needs a file path/);
    hasProblem(problemsOf({ TASKS_DB: 'sqlite://' }, workdir()), /needs a file path/);
  });

  test('redis:// and rediss:// URLs are kept as given', () => {
    for (const url of [
      'redis://localhost:6379',
      'redis://user:pass@redis.internal:6380/2',
      'rediss://default:secret@cache.example.com:6380',
    ]) {
      assert.deepEqual(loadConfig({ TASKS_DB: url }, workdir()).store, { kind: 'redis', url }, url);
    }
  });

  test('DATABASE.URL in the file works like TASKS_DB, and TASKS_DB wins', () => {
    const cwd = workdir({ DATABASE: { URL: 'redis://file-host:6379' } });
    assert.deepEqual(loadConfig({}, cwd).store, { kind: 'redis', url: 'redis://file-host:6379' });
    assert.deepEqual(loadConfig({ TASKS_DB: 'sqlite::memory:' }, cwd).store, { kind: 'sqlite', path: ':memory:' });
  });

  test('a Redis URL is built from DATABASE.REDIS.* when no URL is set', () => {
    const full = loadConfig(
      {},
      workdir({ DATABASE: { REDIS: { HOST: 'redis.internal', PORT: 6380, USERNAME: 'tasks', PASSWORD: 'p@ss:w/rd' } } }),
    );
    assert.deepEqual(full.store, { kind: 'redis', url: 'redis://tasks:p%40ss%3Aw%2Frd@redis.internal:6380' });
    const url = new URL(full.store.kind === 'redis' ? full.store.url : '');
    assert.equal(decodeURIComponent(url.password), 'p@ss:w/rd');
    assert.equal(url.username, 'tasks');

    assert.deepEqual(loadConfig({}, workdir({ DATABASE: { REDIS: { HOST: 'r' } } })).store, { kind: 'redis', url: 'redis://r:6379' });
    assert.deepEqual(loadConfig({}, workdir({ DATABASE: { REDIS: { HOST: 'r', PASSWORD: 'pw' } } })).store, {
      kind: 'redis',
      url: 'redis://:pw@r:6379',
    });
    assert.deepEqual(loadConfig({}, workdir({ DATABASE: { REDIS: { HOST: 'r', USERNAME: 'u' } } })).store, {
      kind: 'redis',
      url: 'redis://u:@r:6379',
    });
  });

  test('DATABASE.REDIS.* without HOST leaves the default sqlite store; a URL wins over HOST', () => {
    const cwd = workdir({ DATABASE: { REDIS: { PORT: 6380, PASSWORD: 'pw' } } });
    assert.deepEqual(loadConfig({}, cwd).store, { kind: 'sqlite', path: join(cwd, 'data', 'tasks.db') });
    const both = workdir({ DATABASE: { URL: 'rediss://u:p@managed:6380', REDIS: { HOST: 'ignored' } } });
    assert.deepEqual(loadConfig({}, both).store, { kind: 'redis', url: 'rediss://u:p@managed:6380' });
  });

  test('a bad store URL is an error that does not show its password', () => {
    for (const url of ['mysql://admin:hunter2@db/tasks', 'redis://admin:hunter2@host:99999', 'postgres://admin:hunter2@db']) {
      const problems = problemsOf({ TASKS_DB: url }, workdir());
      assert.equal(problems.length, 1, url);
      assert.match(problems[0]!, /^TASKS_DB \/ DATABASE\.URL: /, url);
      assert.ok(!problems[0]!.includes('hunter2'), `${url}: ${problems[0]!}`);
    }
    hasProblem(problemsOf({ TASKS_DB: 'redis://host:99999' }, workdir()), /is not a valid Redis URL/);
  });
});

describe('parseStoreUrl', () => {
  test('each form', () => {
    assert.deepEqual(parseStoreUrl('sqlite::memory:', '/srv'), { kind: 'sqlite', path: ':memory:' });
    assert.deepEqual(parseStoreUrl('sqlite:./data/t.db', '/srv'), { kind: 'sqlite', path: '/srv/data/t.db' });
    assert.deepEqual(parseStoreUrl('redis://h:1', '/srv'), { kind: 'redis', url: 'redis://h:1' });
    assert.equal(typeof parseStoreUrl('http://h', '/srv'), 'string');
    assert.equal(typeof parseStoreUrl('', '/srv'), 'string');
    assert.equal(typeof parseStoreUrl('SQLITE:./x', '/srv'), 'string');
  });
});

describe('secretSourceOf: where a Secret Manager configuration comes from', () => {
  const version = 'projects/p/secrets/config/versions/latest';

  test('none without the two variables; with them, the key file resolved and Google’s endpoint by default', () => {
    assert.equal(secretSourceOf({}, '/srv'), null);
    assert.deepEqual(secretSourceOf({ TASKS_KEY_FILENAME: 'sa.json', TASKS_VERSION: version }, '/srv'), {
      keyFilename: '/srv/sa.json',
      version,
      endpoint: 'https://secretmanager.googleapis.com',
    });
  });

  test('a regional or private endpoint as an origin; anything else refused', () => {
    const env = { TASKS_KEY_FILENAME: '/k.json', TASKS_VERSION: version };
    const regional = 'https://secretmanager.europe-west1.rep.googleapis.com';
    assert.equal(secretSourceOf({ ...env, TASKS_SECRET_MANAGER_ENDPOINT: regional }, '/')?.endpoint, regional);
    for (const endpoint of ['secretmanager.googleapis.com', 'ftp://host', 'https://host/v1', 'https://host?x=1']) {
      assert.throws(
        () => secretSourceOf({ ...env, TASKS_SECRET_MANAGER_ENDPOINT: endpoint }, '/'),
        (error: unknown) => error instanceof ConfigError && /TASKS_SECRET_MANAGER_ENDPOINT/.test(error.message),
        endpoint,
      );
    }
  });
});
