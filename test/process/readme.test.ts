/*
 * The README's commands, run as written. The shell blocks of "Walk-through with curl" and
 * "Several servers on Redis" are read from README.md itself and fed to bash, one command at a time,
 * so README and test cannot drift: only the ports are swapped for free ones (8202 -> the server's,
 * 8203 -> the echo target's, Redis's 6379 -> a redis-server of the test's own) and `npm start` for
 * the built server it execs. Under each command, a comment that starts with `{` or `[` is its
 * documented answer: it must match what the command printed, `…` standing for anything.
 *
 * The server runs with the README's settings and otherwise the defaults (no test throttles lifted):
 * a newcomer following the walk-through must never meet a 429 or a 409.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { MAIN, ProcessPool, type ServerProcess, logLines, spawnServer } from '../helpers/server-process.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const README = readFileSync(join(REPO, 'README.md'), 'utf8');

/** One command of a shell block, with the answer the README shows for it (null when none). */
interface Command {
  code: string;
  answer: string | null;
}

/** A shell block of a section, with the paragraph before it (the step it belongs to). */
interface Block {
  intro: string;
  commands: Command[];
}

/** The `sh` blocks of the README section headed `## <title>`. */
function blocksOf(title: string): Block[] {
  const start = README.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `README.md has a section "${title}"`);
  const end = README.indexOf('\n## ', start + 1);
  const section = README.slice(start, end < 0 ? undefined : end);
  const blocks: Block[] = [];
  const fence = /```sh\n([\s\S]*?)```/g;
  let last = 0;
  for (let match = fence.exec(section); match; match = fence.exec(section)) {
    blocks.push({ intro: section.slice(last, match.index), commands: commandsOf(match[1]!) });
    last = match.index + match[0].length;
  }
  return blocks;
}

/**
 * Splits shell text into commands as bash would read them, enough for the README: quotes, `$( )`,
 * `( )` and backslash-newline keep a command going; a newline outside them ends it. A comment on a
 * command's last line, and comment lines right under it, are its answer.
 */
function commandsOf(text: string): Command[] {
  const commands: Command[] = [];
  const nesting: Array<"'" | '"' | ')'> = [];
  let code = '';
  let comment: string | null = null;
  let attachTo: Command | null = null;
  const endLine = (): void => {
    const answer = comment?.replace(/^#\s*/, '') ?? null;
    if (code.trim() !== '') {
      attachTo = { code: code.trimEnd(), answer: answer === '' ? null : answer };
      commands.push(attachTo);
    } else if (answer !== null && attachTo) {
      attachTo.answer = (attachTo.answer ?? '') + answer; // an answer continued on the next line
    } else {
      attachTo = null; // a blank line: what follows belongs to no command above
    }
    code = '';
    comment = null;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const top = nesting.at(-1);
    if (comment !== null) {
      if (c === '\n') endLine();
      else comment += c;
      continue;
    }
    if (top === "'") {
      if (c === "'") nesting.pop();
      code += c;
      continue;
    }
    if (c === '\\') {
      code += c + (text[i + 1] ?? '');
      i++;
      continue;
    }
    if (top === '"') {
      if (c === '"') nesting.pop();
      else if (c === '$' && text[i + 1] === '(') {
        nesting.push(')');
        code += '$(';
        i++;
        continue;
      }
      code += c;
      continue;
    }
    if (c === '#' && (code === '' || /\s$/.test(code))) {
      comment = '#';
      continue;
    }
    if (c === "'" || c === '"') nesting.push(c);
    else if (c === '(') nesting.push(')');
    else if (c === ')' && top === ')') nesting.pop();
    if (c === '\n' && nesting.length === 0) endLine();
    else code += c;
  }
  endLine();
  assert.deepEqual(nesting, [], 'every quote and parenthesis of the block is closed');
  return commands;
}

/** The documented answer as a pattern: literal but for `…`, which stands for anything. */
function answerPattern(answer: string): RegExp {
  const parts = answer.split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('[\\s\\S]*?')}$`);
}

/** One bash process fed command after command, so variables (and arrays) carry from one to the next. */
class Shell {
  private readonly proc: ChildProcess;
  private out = '';
  private err = '';
  private count = 0;

  constructor(cwd: string) {
    this.proc = spawn('bash', ['--norc', '--noprofile'], {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: cwd, LANG: 'C.UTF-8' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.proc.stdout!.on('data', (chunk: Buffer) => (this.out += chunk.toString()));
    this.proc.stderr!.on('data', (chunk: Buffer) => (this.err += chunk.toString()));
  }

  /** Runs `code`; answers what it printed on standard output, and its exit status. */
  async run(code: string): Promise<{ stdout: string; status: number; stderr: string }> {
    const marker = `__readme_command_${++this.count}__`;
    this.proc.stdin!.write(`${code}\nprintf '\\n${marker}%s\\n' "$?"\n`);
    const pattern = new RegExp(`\\n${marker}(\\d+)\\n`);
    const match = await waitFor(
      () => `bash to run:\n${code}\n(printed so far: ${this.out}${this.err})`,
      () => pattern.exec(this.out),
      {
        timeoutMs: 30_000,
      },
    );
    const stdout = this.out.slice(0, match.index).trim();
    const stderr = this.err;
    this.out = this.out.slice(match.index + match[0].length);
    this.err = '';
    return { stdout, status: Number(match[1]), stderr };
  }

  close(): void {
    this.proc.stdin!.end();
    this.proc.kill('SIGKILL');
  }
}

/** Starts `node scripts/echo-target.mjs` on a free port; answers the port and what it printed so far. */
async function startEchoTarget(script: string): Promise<{ proc: ChildProcess; port: number; output: () => string }> {
  const proc = spawn(process.execPath, [script, '0'], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  proc.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const port = await waitFor('the echo target to listen', () => /echo target on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1]);
  return { proc, port: Number(port), output: () => output };
}

describe("the README's walk-through with curl, run as written", () => {
  const blocks = blocksOf('Walk-through with curl');
  const dir = makeTempDir('readme');
  const pool = new ProcessPool();
  let server: ServerProcess;
  let echo: Awaited<ReturnType<typeof startEchoTarget>>;
  let shell: Shell;

  before(async () => {
    // The first block starts the server (terminal 1) and the echo target (terminal 2).
    const [serverLine, targetLine] = blocks[0]!.commands.map((c) => c.code);
    const start = /^((?:[A-Z_]+=\S+\s+)*)npm start$/.exec(serverLine ?? '');
    assert.ok(start, `terminal 1 runs "<settings> npm start": ${serverLine}`);
    const env = Object.fromEntries(
      start[1]!
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map((pair) => pair.split('=', 2) as [string, string]),
    );
    const target = /^node (scripts\/echo-target\.mjs) 8203$/.exec(targetLine ?? '');
    assert.ok(target, `terminal 2 runs the echo target on 8203: ${targetLine}`);

    echo = await startEchoTarget(join(REPO, target[1]!));
    // The README's settings; a free port on loopback instead of 8202 on every interface.
    // The echo target's port wherever the settings name it (an allow entry with its port).
    for (const [key, value] of Object.entries(env)) env[key] = value.replaceAll('127.0.0.1:8203', `127.0.0.1:${echo.port}`);
    server = pool.track(await spawnServer({ ...env, PORT: '0', HOST: '127.0.0.1' }, dir));
    shell = new Shell(dir);
  });
  after(async () => {
    shell?.close();
    echo?.proc.kill('SIGKILL');
    await pool.killAll();
    removeDir(dir);
  });

  test('every step answers as the README shows, in order', async () => {
    const serverAddress = new URL(server.url).host;
    const attemptsLogged = (): Array<Record<string, unknown>> => logLines(server.output()).filter((l) => /^attempt /.test(String(l.msg)));
    assert.equal(blocks.length, 5, 'the servers, then steps 1 to 4');
    const checked: string[] = [];
    for (const [index, block] of blocks.slice(1).entries()) {
      const step = index + 1;
      assert.match(block.intro, new RegExp(`\\*\\*${step}\\. `), `block ${step} follows the heading of step ${step}`);
      if (step === 3) {
        // "Once both are printed": the first run and its repeat reached the target, and the
        // server logged their outcomes (terminal 1).
        await waitFor(
          () => `the target to print the first run and the repeat (printed: ${echo.output()})`,
          () => attemptsLogged().length >= 2 && (echo.output().match(/POST \/hook -> 200/g) ?? []).length >= 2,
          { timeoutMs: 40_000 },
        );
      }
      for (const command of block.commands) {
        assert.ok(
          !/localhost(?!:8202)|:8202\b(?<!localhost:8202)/.test(command.code),
          `the server is named localhost:8202: ${command.code}`,
        );
        const code = command.code.replaceAll('localhost:8202', serverAddress).replaceAll('127.0.0.1:8203', `127.0.0.1:${echo.port}`);
        const result = await shell.run(code);
        const where = `step ${step}: ${command.code}\nprinted: ${result.stdout}\n${result.stderr}`;
        assert.equal(result.status, 0, where);
        assert.doesNotMatch(result.stdout, /"statusCode":4\d\d,"code"/, `no error answer: ${where}`);
        if (command.answer !== null && /^[[{]/.test(command.answer)) {
          assert.match(result.stdout, answerPattern(command.answer), where);
          checked.push(command.answer);
        }
      }
    }
    assert.ok(checked.length >= 10, `the README shows answers to check (${checked.length} found)`);

    // What step 3 says the target prints, and step 4's task, due in an hour, never reached it.
    const printed = echo.output();
    assert.match(printed, /user-agent: Kuueri-Tasks/);
    assert.match(printed, /x-kuueri-tasks-queue: /);
    assert.match(printed, /body: \{"hello":"world"\}/);
    assert.doesNotMatch(printed, /\/later/);

    // Terminal 1: one line per attempt, with the task id, the status and the time taken; nothing of
    // the request (the body, a header, the URL's path).
    const attempts = attemptsLogged();
    assert.equal(attempts.length, 2, JSON.stringify(attempts));
    for (const line of attempts) {
      assert.equal(line.level, 30, 'logged at info, the default level');
      assert.equal(line.statusCode, 200);
      assert.equal(typeof line.taskId, 'string');
      assert.equal(typeof line.ms, 'number');
    }
    assert.deepEqual(
      attempts.map((l) => l.state),
      ['RUNNING', 'COMPLETED'],
    );
    const serverLog = server.output();
    assert.doesNotMatch(serverLog, /hello|\/hook|application\/json|kt_/, 'no body, path, header value or token in the log');
  });
});

describe("the README's Redis section, run twice on one Redis", () => {
  const [block] = blocksOf('Several servers on Redis');
  const dir = makeTempDir('readme-redis');
  const pool = new ProcessPool();
  let redis: RedisServer;

  before(async () => {
    redis = await startRedisServer();
  });
  after(async () => {
    await pool.killAll();
    await redis?.close();
    removeDir(dir);
  });

  /** Runs the block's commands in `dir`: the last starts the server, which is left running. */
  const runBlock = async (): Promise<ServerProcess> => {
    const commands = block!.commands.map((c) => c.code);
    const startLine = commands.at(-1)!;
    assert.match(startLine, /redis:\/\/127\.0\.0\.1:6379 .*npm start$/, 'the last command starts a server on Redis');
    const shell = new Shell(dir);
    try {
      for (const code of commands.slice(0, -1)) assert.equal((await shell.run(code)).status, 0, code);
    } finally {
      shell.close();
    }
    const launch = startLine.replace('redis://127.0.0.1:6379', redis.url).replace(/npm start$/, `exec node ${JSON.stringify(MAIN)}`);
    return pool.track(await spawnServer({ PORT: '0', HOST: '127.0.0.1' }, dir, 20_000, ['bash', '-c', launch]));
  };

  test('the second start finds the key the first made and starts as well; both log its source and store', async () => {
    const first = await runBlock();
    const keyFile = join(dir, 'data', 'crypto.key');
    assert.ok(existsSync(keyFile), 'the key was made into data/crypto.key');
    const key = readFileSync(keyFile, 'utf8');
    await first.kill('SIGTERM');

    const second = await runBlock();
    assert.equal(readFileSync(keyFile, 'utf8'), key, 'the second run kept the key');
    for (const server of [first, second]) {
      const bound = logLines(server.output()).find((l) => typeof l.keyFrom === 'string');
      assert.ok(bound, `the start logs where the key came from:\n${server.output()}`);
      assert.equal(bound.keyFrom, 'TASKS_CRYPTO_KEY (environment)');
      assert.equal(bound.store, `Redis ${redis.url}`);
    }
    await second.kill('SIGTERM');
  });
});
