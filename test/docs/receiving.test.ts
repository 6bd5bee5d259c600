import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { b64, subscribeOk } from '../helpers/api-tasks.js';
import { must } from '../helpers/must.js';
import type { Credentials } from '../helpers/api-client.js';
import { type RecordedRequest, TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

/*
 * The verifiers docs/receiving.md shows are run as written, against a real signed delivery of a
 * real server: each must accept it, and refuse it with a changed body or with another secret.
 * A language whose tool is not on this machine is skipped, saying so.
 */

const DOC = readFileSync(new URL('../../docs/receiving.md', import.meta.url), 'utf8');

/** The code block of `language` in docs/receiving.md (there is one per language). */
function snippet(language: string): string {
  const match = new RegExp('```' + language + '\\n([\\s\\S]*?)```').exec(DOC);
  assert.ok(match, `docs/receiving.md has a ${language} block`);
  return match[1]!;
}

/** Whether a tool runs here; `go` has no `--version` flag, only a `version` command. */
const has = (command: string, versionArgs = ['--version']): boolean => spawnSync(command, versionArgs, { encoding: 'utf8' }).status === 0;

interface Case {
  secret: string;
  headers: Record<string, string>;
  body: string;
}

describe('docs/receiving.md: the verifiers accept a real delivery', () => {
  let server: TestServer;
  let target: TargetServer;
  let creds: Credentials & { signingSecret: string };
  let delivery: RecordedRequest;
  let dir: string;
  const other = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;

  before(async () => {
    dir = makeTempDir('receiving');
    server = await startTestServer();
    target = await TargetServer.start();
    const res = await server.client.request<Credentials & { signingSecret: string }>('POST', '/v1beta/register', {
      body: { email: `receiving.${process.pid}.${Date.now()}@example.com` },
    });
    creds = res.body;
    await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/hook'), method: 'POST', data: b64('{"amount": 12.5, "note":"ünïcode"}') },
    });
    delivery = must((await target.waitForRequests(1))[0], 'the delivery');
  });
  after(async () => {
    await server?.close();
    await target?.close();
    removeDir(dir);
  });

  /** The three cases every verifier is run on, and what it must answer for each. */
  function cases(): { input: Case; expected: boolean }[] {
    const headers = Object.fromEntries(Object.entries(delivery.headers).map(([k, v]) => [k, String(v)]));
    const body = delivery.body.toString('base64');
    return [
      { input: { secret: creds.signingSecret, headers, body }, expected: true },
      { input: { secret: creds.signingSecret, headers, body: Buffer.from('{"amount": 1000}').toString('base64') }, expected: false },
      { input: { secret: other, headers, body }, expected: false },
    ];
  }

  test('Python (standard library only)', { skip: has('python3') ? false : 'python3 is not installed here' }, () => {
    const file = join(dir, 'verify.py');
    const harness = [
      'import base64, json, sys',
      'case = json.load(sys.stdin)',
      "print(verify(case['secret'], case['headers'], base64.b64decode(case['body'])))",
    ].join('\n');
    writeFileSync(file, `${snippet('python')}\n${harness}\n`);
    for (const { input, expected } of cases()) {
      const run = spawnSync('python3', [file], { input: JSON.stringify(input), encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout.trim(), expected ? 'True' : 'False');
    }
  });

  test('TypeScript (standardwebhooks)', () => {
    // The snippet imports the package by name; from a temporary folder it is found by its path here.
    const packagePath = createRequire(import.meta.url).resolve('standardwebhooks');
    const file = join(dir, 'verify.ts');
    const code = snippet('ts').replace("from 'standardwebhooks'", `from ${JSON.stringify(packagePath)}`);
    const harness = [
      "const input = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));",
      "console.log(verify(Buffer.from(input.body, 'base64'), input.headers));",
    ].join('\n');
    writeFileSync(file, `${code}\n${harness}\n`);
    for (const { input, expected } of cases()) {
      const run = spawnSync(process.execPath, ['--import', 'tsx', file], {
        input: JSON.stringify(input),
        encoding: 'utf8',
        env: { ...process.env, KUUERI_SIGNING_SECRET: input.secret },
      });
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout.trim(), String(expected));
    }
  });

  test('Go (standard library only)', { skip: has('go', ['version']) ? false : 'go is not installed here' }, () => {
    const module = join(dir, 'gocheck');
    mkdirSync(join(module, 'receiver'), { recursive: true });
    writeFileSync(join(module, 'go.mod'), 'module gocheck\n\ngo 1.19\n');
    writeFileSync(join(module, 'receiver', 'receiver.go'), snippet('go'));
    writeFileSync(
      join(module, 'main.go'),
      `package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"

	"gocheck/receiver"
)

func main() {
	var c struct {
		Secret  string            \`json:"secret"\`
		Headers map[string]string \`json:"headers"\`
		Body    string            \`json:"body"\`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&c); err != nil {
		panic(err)
	}
	header := http.Header{}
	for k, v := range c.Headers {
		header.Set(k, v)
	}
	body, _ := base64.StdEncoding.DecodeString(c.Body)
	fmt.Println(receiver.Verify(c.Secret, header, body))
}
`,
    );
    for (const { input, expected } of cases()) {
      const run = spawnSync('go', ['run', '.'], { cwd: module, input: JSON.stringify(input), encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout.trim(), String(expected));
    }
  });
});
