/*
 * The `kuueri-tasks` CLI as a user runs it: `node packages/client/dist/cli.js …` in its own
 * process (after `npm run build`), against a real server, with a home folder of its own. Every
 * command in human and --json output; settings from the environment, the config file and flags, in
 * that order; exit status 2 for a usage mistake and 1 for an API error, with the code on stderr; and
 * the token printed by register alone.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort } from '../helpers/ports.js';
import { TargetServer } from '../helpers/target-server.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait.js';

const PACKAGE = fileURLToPath(new URL('../../packages/client/', import.meta.url));
const CLI = join(PACKAGE, 'dist', 'cli.js');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

interface Project {
  id: string;
  token: string;
}

let emails = 0;
const newEmail = (): string => `cli${++emails}.${process.pid}.${Date.now()}@example.com`;

describe('the kuueri-tasks CLI against a real server', { concurrency: true }, () => {
  let server: TestServer;
  let target: TargetServer;
  let home: string;
  /** A project whose credentials the tests pass in the environment. */
  let project: Project;
  /** Every token the tests made: only register may print one, and only its own. */
  const tokens: string[] = [];

  /**
   * Runs the CLI with only the environment given (and PATH), in a home folder of the tests' own
   * (or `home`); answers when it exits. No run but register's may print a token.
   */
  async function cli(args: string[], options: { env?: Record<string, string>; stdin?: string; home?: string } = {}): Promise<Run> {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: options.home ?? home, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdin.end(options.stdin ?? '');
    const exited = new Promise<Run>((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
    const run = await waitFor(`kuueri-tasks ${args.join(' ')} to exit`, exited, { timeoutMs: 30_000 });
    if (args[0] !== 'register') {
      for (const token of tokens)
        assert.ok(!`${run.stdout}${run.stderr}`.includes(token), `kuueri-tasks ${args.join(' ')} printed a token`);
    }
    return run;
  }

  /** The environment that names the server and the project. */
  const envOf = (who: Project): Record<string, string> => ({
    KUUERI_TASKS_URL: server.url,
    KUUERI_TASKS_PROJECT: who.id,
    KUUERI_TASKS_TOKEN: who.token,
  });

  /** Runs the CLI as `project`, expecting success; answers its stdout. */
  async function ok(args: string[], who: Project = project): Promise<string> {
    const run = await cli(args, { env: envOf(who) });
    assert.equal(run.status, 0, `kuueri-tasks ${args.join(' ')}: ${run.stderr}`);
    assert.equal(run.stderr, '');
    return run.stdout;
  }
  const okJson = async <T>(args: string[], who: Project = project): Promise<T> => JSON.parse(await ok([...args, '--json'], who)) as T;

  async function register(extra: string[] = [], env: Record<string, string> = {}): Promise<Project> {
    const run = await cli(['register', newEmail(), '--json', ...extra], { env: { KUUERI_TASKS_URL: server.url, ...env } });
    assert.equal(run.status, 0, run.stderr);
    const made = JSON.parse(run.stdout) as Project;
    tokens.push(made.token);
    return made;
  }

  before(async () => {
    server = await startTestServer();
    target = await TargetServer.start();
    home = makeTempDir('cli-home');
    project = await register();
  });
  after(async () => {
    await server.close();
    await target.close();
    removeDir(home);
  });

  test('register prints the project, its token and signing secret; --save writes them to the config file, readable by its owner alone', async () => {
    const printed = await cli(['register', newEmail(), '--server', server.url]);
    assert.equal(printed.status, 0, printed.stderr);
    assert.match(printed.stdout, /^project: +[0-9A-Z]{26}\ntoken: +kt_\S+\nsigning secret: +whsec_\S+\n/);
    assert.match(printed.stdout, /shown this once/);
    tokens.push(/token: +(\S+)/.exec(printed.stdout)![1]!);

    const path = join(home, 'saved', 'config.json');
    const saved = await cli(['register', newEmail(), '--save', '--config', path], { env: { KUUERI_TASKS_URL: server.url } });
    assert.equal(saved.status, 0, saved.stderr);
    assert.match(saved.stdout, new RegExp(`saved to ${path}`));
    const file = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
    assert.deepEqual(Object.keys(file).sort(), ['project', 'token', 'url']);
    assert.equal(file.url, server.url);
    assert.ok(saved.stdout.includes(file.token!));
    tokens.push(file.token!);
    assert.equal(statSync(path).mode & 0o777, 0o600);

    // The saved file is enough: no environment but its path.
    const info = await cli(['info', '--json'], { env: { KUUERI_TASKS_CONFIG: path } });
    assert.equal(info.status, 0, info.stderr);
    assert.equal((JSON.parse(info.stdout) as { taskInQueue: number }).taskInQueue, 0);
  });

  test('subscribe from flags sends the request they describe; get, in text and JSON', async () => {
    const queued = await okJson<{ id: string; state: string }>([
      'subscribe',
      target.url('/flags'),
      '-X',
      'put',
      '--data',
      '{"hello":"world"}',
      '-H',
      'Content-Type: application/json',
      '--header',
      'X-Trace: abc',
      '--param',
      'source=cli',
      '--retry',
      '2',
      '--retry-fixed',
      '--timeout',
      '10s',
      '--tag',
      'cli',
      '--tag',
      'flags',
    ]);
    assert.equal(queued.state, 'RUNNING');
    const [request] = await target.waitForRequests(1, { path: '/flags' });
    assert.equal(request!.method, 'PUT');
    assert.equal(request!.url, '/flags?source=cli');
    assert.equal(request!.headers['content-type'], 'application/json');
    assert.equal(request!.headers['x-trace'], 'abc');
    assert.equal(request!.body.toString(), '{"hello":"world"}');

    const task = await okJson<{ id: string; config: { retry: number; retryExponential: boolean; timeout: number }; tags: string[] }>([
      'get',
      queued.id,
    ]);
    assert.equal(task.id, queued.id);
    assert.deepEqual([task.config.retry, task.config.retryExponential, task.config.timeout], [2, false, 10_000]);
    assert.deepEqual(task.tags, ['cli', 'flags']);
    const text = await ok(['get', queued.id]);
    assert.match(text, new RegExp(`^id: +${queued.id}$`, 'm'));
    assert.match(text, new RegExp(`^target: +PUT ${target.url('/flags').replace(/[.]/g, '\\.')}$`, 'm'));
    assert.match(text, /^tags: +cli, flags$/m);

    const line = await ok(['subscribe', target.url('/later'), '--delay', '1h', '--data-base64', 'aGk=']);
    assert.match(line, /^[0-9A-Z]{26} {2}RUNNING {2}next execution \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\n$/);
    const at = new Date(Date.now() + 7_200_000).toISOString();
    const pinned = await okJson<{ estimateExecAt: number }>(['subscribe', target.url('/later'), '--at', at]);
    assert.equal(pinned.estimateExecAt, Date.parse(at));
  });

  test('subscribe --file takes the API body, from a file or stdin; an array is a batch that exits 1 when an item is refused', async () => {
    const body = { httpRequest: { url: target.url('/file'), method: 'POST' }, config: { executionDelay: '1h' }, tags: ['file'] };
    const path = join(home, 'task.json');
    writeFileSync(path, JSON.stringify(body));
    assert.equal((await okJson<{ state: string }>(['subscribe', '--file', path])).state, 'RUNNING');
    const fromStdin = await cli(['subscribe', '--file', '-', '--json'], { env: envOf(project), stdin: JSON.stringify(body) });
    assert.equal(fromStdin.status, 0, fromStdin.stderr);

    const batch = JSON.stringify([body, { httpRequest: { url: 'nope', method: 'POST' } }]);
    const text = await cli(['subscribe', '--file', '-'], { env: envOf(project), stdin: batch });
    assert.equal(text.status, 1);
    assert.match(text.stdout, /^0 +201 +[0-9A-Z]{26} {2}RUNNING/m);
    assert.match(text.stdout, /^1 +400 +VALIDATION_FAILED: /m);
    const json = await cli(['subscribe', '--file', '-', '--json'], { env: envOf(project), stdin: JSON.stringify([body]) });
    assert.equal(json.status, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as Array<{ statusCode: number }>)[0]!.statusCode, 201);
  });

  test('pause, resume, cancel and delete, then timeline, in text and JSON', async () => {
    const { id } = await okJson<{ id: string }>(['subscribe', target.url('/manage'), '--delay', '1h']);
    assert.equal(await ok(['pause', id]), `${id}  PAUSED\n`);
    assert.match(await ok(['resume', id]), new RegExp(`^${id} {2}RUNNING {2}next execution `));
    assert.deepEqual(await okJson(['pause', id]), { response: 'PAUSED' });
    assert.equal((await okJson<{ state: string }>(['resume', id])).state, 'RUNNING');
    assert.equal(await ok(['cancel', id]), `${id}  CANCELED\n`);

    const entries = await okJson<Array<{ label: string }>>(['timeline', id]);
    assert.deepEqual(
      entries.map((e) => e.label),
      ['Subscribe', 'Pause', 'Resume', 'Pause', 'Resume', 'Unsubscribe'],
    );
    const text = await ok(['timeline', id]);
    const lines = text.trimEnd().split('\n');
    assert.match(lines[0]!, /^TIME +LABEL +DESCRIPTION$/);
    assert.deepEqual(
      lines.slice(1).map((line) => line.split(/ +/)[1]),
      ['Subscribe', 'Pause', 'Resume', 'Pause', 'Resume', 'Unsubscribe'],
    );
    const page = await ok(['timeline', id, '--limit', '2']);
    const cursor = /--cursor (\S+)/.exec(page)?.[1];
    assert.ok(cursor, page);
    const next = await okJson<Array<{ label: string }>>(['timeline', id, '--limit', '2', '--cursor', cursor]);
    assert.deepEqual(
      next.map((e) => e.label),
      ['Resume', 'Pause'],
    );
    const all = await okJson<Array<{ label: string }>>(['timeline', id, '--limit', '2', '--all']);
    assert.equal(all.length, 6);

    assert.equal(await ok(['delete', id]), `${id}  deleted\n`);
    const { id: other } = await okJson<{ id: string }>(['subscribe', target.url('/manage'), '--delay', '1h']);
    await ok(['cancel', other, '--json']);
    assert.deepEqual(await okJson(['delete', other]), { response: 'EMPTY' });
  });

  test('list prints a compact table or the JSON page; filters; --cursor and --all walk the pages', async () => {
    const own = await register();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const tags = i < 3 ? ['--tag', 'first'] : [];
      ids.push((await okJson<{ id: string }>(['subscribe', target.url('/list'), '--delay', '1h', ...tags], own)).id);
    }
    await ok(['pause', ids[1]!], own);
    const newestFirst = [...ids].sort().reverse();

    const text = await ok(['list'], own);
    const [header, ...rows] = text.trimEnd().split('\n');
    assert.match(header!, /^ID +STATE +STATUS +NEXT +TARGET +TAGS$/);
    assert.deepEqual(
      rows.map((row) => row.split(/ +/)[0]),
      newestFirst,
    );
    assert.match(
      rows.find((row) => row.startsWith(ids[1]!))!,
      new RegExp(`^${ids[1]} +PAUSED +0 +- +POST ${target.url('/list')} +first$`),
    );

    const page = await okJson<{ tasks: Array<{ id: string }>; nextCursor: string }>(['list', '--limit', '2'], own);
    assert.deepEqual(
      page.tasks.map((t) => t.id),
      newestFirst.slice(0, 2),
    );
    const more = await ok(['list', '--limit', '2'], own);
    assert.match(more, new RegExp(`--cursor ${page.nextCursor}`));
    const second = await okJson<{ tasks: Array<{ id: string }> }>(['list', '--limit', '2', '--cursor', page.nextCursor], own);
    assert.deepEqual(
      second.tasks.map((t) => t.id),
      newestFirst.slice(2, 4),
    );
    const all = await okJson<{ tasks: Array<{ id: string }>; nextCursor: null }>(['list', '--limit', '2', '--all'], own);
    assert.deepEqual(
      all.tasks.map((t) => t.id),
      newestFirst,
    );
    assert.equal(all.nextCursor, null);

    const filtered = await okJson<{ tasks: Array<{ id: string }> }>(['list', '--state', 'paused', '--tag', 'first'], own);
    assert.deepEqual(
      filtered.tasks.map((t) => t.id),
      [ids[1]],
    );
    const states = await okJson<{ tasks: unknown[] }>(['list', '--state', 'RUNNING,PAUSED', '--created-from', '0'], own);
    assert.equal(states.tasks.length, 5);
    assert.equal(await ok(['list', '--tag', 'none'], own), 'no tasks\n');

    const keyed = await server.client.subscribe(own, {
      httpRequest: { url: target.url('/list'), method: 'POST' },
      config: { executionDelay: '1h' },
      flowKey: 'k.1',
    });
    assert.equal(keyed.status, 201, JSON.stringify(keyed.body));
    const byFlow = await okJson<{ tasks: Array<{ id: string }> }>(['list', '--flow', 'k.1', '--state', 'running'], own);
    assert.deepEqual(
      byFlow.tasks.map((t) => t.id),
      [keyed.body.id],
    );
    assert.equal(await ok(['list', '--schedule', '01KB0000000000000000000000'], own), 'no tasks\n');
    const badSchedule = await cli(['list', '--schedule', 'nope'], { env: envOf(own) });
    assert.equal(badSchedule.status, 1);
    assert.match(badSchedule.stderr, /VALIDATION_FAILED \(400\)/);
  });

  test('settings: the environment wins over the config file, --server over both; the default file is under HOME', async () => {
    const other = await register();
    // A home of its own: the default config file written here must not reach the other tests, which run meanwhile.
    const ownHome = makeTempDir('cli-settings');
    const path = join(ownHome, '.config', 'kuueri-tasks', 'config.json');
    mkdirSync(join(ownHome, '.config', 'kuueri-tasks'), { recursive: true });
    writeFileSync(path, JSON.stringify({ url: server.url, project: other.id, token: other.token }), { mode: 0o600 });
    const inHome = (args: string[], env: Record<string, string> = {}): Promise<Run> => cli(args, { env, home: ownHome });
    try {
      const { id } = await okJson<{ id: string }>(['subscribe', target.url('/settings'), '--delay', '1h'], other);
      // The default config file alone: it finds the task of its project.
      const fromFile = await inHome(['get', id, '--json']);
      assert.equal(fromFile.status, 0, fromFile.stderr);
      // The environment's project and token win over the file's: that project has no such task.
      const fromEnv = await inHome(['get', id], { KUUERI_TASKS_PROJECT: project.id, KUUERI_TASKS_TOKEN: project.token });
      assert.equal(fromEnv.status, 1);
      assert.match(fromEnv.stderr, /TASK_NOT_FOUND \(404\)/);
      // A token in the environment wins over the file's, alone too.
      const wrongToken = await inHome(['info'], { KUUERI_TASKS_TOKEN: 'kt_wrong' });
      assert.equal(wrongToken.status, 1);
      assert.match(wrongToken.stderr, /UNAUTHORIZED \(401\)/);
      // The URL: the environment over the file, --server over the environment.
      const nowhere = `http://127.0.0.1:${await freePort()}`;
      assert.equal((await inHome(['info'], { KUUERI_TASKS_URL: nowhere })).status, 1);
      const flagged = await inHome(['info', '--server', server.url], { KUUERI_TASKS_URL: nowhere });
      assert.equal(flagged.status, 0, flagged.stderr);
      // XDG_CONFIG_HOME moves the default file: none there yet, then one.
      const xdg = join(ownHome, 'xdg');
      const elsewhere = await inHome(['info'], { XDG_CONFIG_HOME: xdg });
      assert.equal(elsewhere.status, 2);
      assert.match(elsewhere.stderr, /KUUERI_TASKS_PROJECT/);
      mkdirSync(join(xdg, 'kuueri-tasks'), { recursive: true });
      writeFileSync(join(xdg, 'kuueri-tasks', 'config.json'), readFileSync(path));
      assert.equal((await inHome(['get', id], { XDG_CONFIG_HOME: xdg })).status, 0);
    } finally {
      removeDir(ownHome);
    }
  });

  test('usage mistakes exit 2 and say what to fix; --help exits 0', async () => {
    const mistakes: string[][] = [
      [],
      ['frobnicate'],
      ['get'],
      ['get', 'a', 'b'],
      ['get', 'x', '--bogus'],
      ['list', '--state', 'SLEEPING'],
      ['list', '--limit', 'ten'],
      ['subscribe'],
      ['subscribe', target.url('/x'), '--method', 'TRACE'],
      ['subscribe', target.url('/x'), '--at', 'tomorrow'],
      ['subscribe', target.url('/x'), '--header', 'no-colon'],
      ['subscribe', target.url('/x'), '--data', 'a', '--data-base64', 'YQ=='],
      ['subscribe', '--file', join(home, 'missing.json')],
      ['reschedule', 'x'],
      ['list', '--all', '--cursor', 'c'],
    ];
    for (const args of mistakes) {
      const run = await cli(args, { env: envOf(project) });
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stdout}${run.stderr}`);
      assert.match(run.stderr, /^kuueri-tasks: .+\n/, args.join(' '));
      assert.equal(run.stdout, '', args.join(' '));
    }
    const unconfigured = await cli(['list'], { env: { KUUERI_TASKS_URL: server.url } });
    assert.equal(unconfigured.status, 2);
    assert.match(unconfigured.stderr, /needs the project and its token/);
    writeFileSync(join(home, 'broken.json'), '{"token": "kt_in_a_broken_file",');
    const broken = await cli(['list', '--config', join(home, 'broken.json')]);
    assert.equal(broken.status, 2);
    assert.match(broken.stderr, /is not valid JSON/);
    assert.doesNotMatch(broken.stderr, /kt_in_a_broken_file/);

    const help = await cli(['--help']);
    assert.equal(help.status, 0);
    for (const command of ['register', 'subscribe', 'get', 'timeline', 'list', 'pause', 'resume', 'cancel', 'delete']) {
      assert.match(help.stdout, new RegExp(`^ {2}${command}\\b`, 'm'), command);
      const own = await cli([command, '--help']);
      assert.equal(own.status, 0, command);
      assert.match(own.stdout, new RegExp(`^Usage: kuueri-tasks ${command}\\b`), command);
    }
  });

  test('API errors exit 1 with the code and message on stderr (JSON with --json); an unreachable server exits 1 too', async () => {
    const missing = await cli(['get', '01KB0000000000000000000000'], { env: envOf(project) });
    assert.equal(missing.status, 1);
    assert.equal(missing.stdout, '');
    assert.match(missing.stderr, /^kuueri-tasks: TASK_NOT_FOUND \(404\): \S.*\n$/);

    const invalid = await cli(['subscribe', 'not-a-url', '--json'], { env: envOf(project) });
    assert.equal(invalid.status, 1);
    const error = JSON.parse(invalid.stderr) as { statusCode: number; code: string; message: string; issues: Array<{ field: string }> };
    assert.deepEqual([error.statusCode, error.code], [400, 'VALIDATION_FAILED']);
    assert.deepEqual(
      error.issues.map((i) => i.field),
      ['httpRequest.url'],
    );
    const issues = await cli(['subscribe', 'not-a-url'], { env: envOf(project) });
    assert.match(issues.stderr, /VALIDATION_FAILED \(400\)[^\n]*\n {2}httpRequest\.url: /);

    const { id } = await okJson<{ id: string }>(['subscribe', target.url('/conflict'), '--delay', '1h']);
    const conflict = await cli(['resume', id], { env: envOf(project) });
    assert.equal(conflict.status, 1);
    assert.match(conflict.stderr, /TASK_STATE_CONFLICT \(409\)/);

    const taken = await cli(['register', 'taken@example.com'], { env: { KUUERI_TASKS_URL: server.url } });
    assert.equal(taken.status, 0, taken.stderr);
    tokens.push(/token: +(\S+)/.exec(taken.stdout)![1]!);
    const again = await cli(['register', 'taken@example.com'], { env: { KUUERI_TASKS_URL: server.url } });
    assert.equal(again.status, 1);
    assert.match(again.stderr, /EMAIL_TAKEN \(409\)/);

    const down = await cli(['info'], { env: { ...envOf(project), KUUERI_TASKS_URL: `http://127.0.0.1:${await freePort()}` } });
    assert.equal(down.status, 1);
    assert.match(down.stderr, /^kuueri-tasks: the request failed: .*ECONNREFUSED/);
  });

  test("the built package: package.json's bin and exports name files the build made; the webhooks entry loads node:crypto alone", async () => {
    const manifest = JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
      exports: Record<string, string | { types: string; default: string }>;
    };
    assert.deepEqual(Object.keys(manifest.bin), ['kuueri-tasks']);
    assert.ok(readFileSync(join(PACKAGE, manifest.bin['kuueri-tasks']!), 'utf8').startsWith('#!/usr/bin/env node\n'));
    for (const entry of Object.values(manifest.exports)) {
      for (const file of typeof entry === 'string' ? [entry] : [entry.types, entry.default])
        assert.ok(existsSync(join(PACKAGE, file)), file);
    }
    const main = (await import(pathToFileURL(join(PACKAGE, 'dist', 'index.js')).href)) as Record<string, unknown>;
    for (const name of [
      'KuueriTasksClient',
      'KuueriTasksError',
      'OPERATIONS',
      'verifyWebhook',
      'signWebhook',
      'WebhookVerificationError',
    ]) {
      assert.ok(name in main, name);
    }
    const webhooks = readFileSync(join(PACKAGE, 'dist', 'webhooks.js'), 'utf8');
    assert.deepEqual(
      [...webhooks.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]),
      ['node:crypto'],
    );
  });
});
