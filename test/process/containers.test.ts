/*
 * The container files, checked without a container engine (none runs on CI machines):
 * Debian's docker-compose validates both compose files and answers them as it would run them, and
 * the Dockerfile and the compose file are held to what the server needs. Building and starting them
 * for real is scripts/prove-containers.sh's job, on a machine with an engine (docs/operations.md).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string): string => readFileSync(`${REPO}${file}`, 'utf8');

const answers = new Map<string, string>();

/** `docker-compose config`: the file as Compose reads it, after its env file and defaults (asked once each: Compose starts slowly). */
function composeConfig(file: string, ...args: string[]): string {
  const key = [file, ...args].join(' ');
  const known = answers.get(key);
  if (known !== undefined) return known;
  const answer = execFileSync('docker-compose', ['-f', file, 'config', ...args], {
    cwd: REPO,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  answers.set(key, answer);
  return answer;
}

describe('docker-compose.yml: the server and Redis', () => {
  test('is valid, with both services and a volume for each', () => {
    assert.deepEqual(composeConfig('docker-compose.yml', '--services').trim().split('\n').sort(), ['redis', 'tasks']);
    assert.deepEqual(composeConfig('docker-compose.yml', '--volumes').trim().split('\n').sort(), ['redis-data', 'tasks-data']);
    const config = composeConfig('docker-compose.yml');
    assert.match(config, /condition: service_healthy/, 'the server waits for a healthy Redis');
    assert.match(config, /tasks-data:\/app\/data:rw/, 'the server keeps its data in a volume');
    assert.match(config, /redis-data:\/data:rw/, 'Redis keeps its data in a volume');
  });

  test('Redis runs with the shipped redis.conf', () => {
    const config = composeConfig('docker-compose.yml');
    assert.match(config, /resource\/config\/redis\.conf:\/usr\/local\/etc\/redis\/redis\.conf:ro/);
    assert.match(config, /- redis-server\n\s+- \/usr\/local\/etc\/redis\/redis\.conf\n/);
  });

  test("the server's Redis user and password are redis.conf's ACL user", () => {
    const url = /TASKS_DB: (redis:\/\/\S+)/.exec(composeConfig('docker-compose.yml'))?.[1];
    assert.ok(url, 'the env file sets TASKS_DB to a redis:// URL');
    const { username, password, hostname } = new URL(url);
    assert.equal(hostname, 'redis', 'the Redis service, by its name in the compose network');
    const acl = new RegExp(`^user ${username} on >(\\S+) `, 'm').exec(read('resource/config/redis.conf'));
    assert.ok(acl, `redis.conf has an enabled user "${username}"`);
    assert.equal(decodeURIComponent(password), acl[1]);
    // The ACL user may touch only the server's keys: the server must use no other prefix.
    assert.match(acl[0] + read('resource/config/redis.conf'), new RegExp(`user ${username} on >\\S+ ~kt:\\*`));
  });
});

describe('docker-compose.sqlite.yml: the embedded store only', () => {
  test('is valid: one service, its data in a volume, no Redis', () => {
    assert.deepEqual(composeConfig('docker-compose.sqlite.yml', '--services').trim().split('\n'), ['tasks']);
    const config = composeConfig('docker-compose.sqlite.yml');
    assert.match(config, /TASKS_DB: sqlite:\.\/data\/tasks\.db/);
    assert.match(config, /tasks-data:\/app\/data:rw/);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const lines = dockerfile.split('\n').filter((line) => !line.startsWith('#'));

  test('builds in one stage and runs from a second with production dependencies only', () => {
    assert.equal(lines.filter((line) => line.startsWith('FROM ')).length, 2);
    assert.match(dockerfile, /npm prune --omit=dev/);
    assert.match(dockerfile, /COPY --from=build [^\n]*\/app\/node_modules/);
  });

  test('runs as a user other than root, with its data in a volume and a health check', () => {
    const user = lines.filter((line) => line.startsWith('USER ')).at(-1);
    assert.equal(user, 'USER node');
    assert.match(dockerfile, /VOLUME \["\/app\/data"\]/);
    assert.match(dockerfile, /HEALTHCHECK [^\n]*\\\n\s+CMD [^\n]*\/healthz/);
  });

  test("starts the server as the README's npm start does", () => {
    const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.start!.replace(/^exec /, '');
    const cmd = lines.find((line) => line.startsWith('CMD '));
    assert.deepEqual(JSON.parse(cmd!.slice(4)), start.split(' '));
  });

  test('sends no local data, keys or configuration to the build', () => {
    const ignored = read('.dockerignore').split('\n');
    for (const path of ['data', 'node_modules', '.docker.env', 'resource/config/config.json', '.git']) {
      assert.ok(ignored.includes(path), `.dockerignore lists ${path}`);
    }
  });
});
