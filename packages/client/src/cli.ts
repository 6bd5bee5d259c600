#!/usr/bin/env node
/*
 * The `kuueri-tasks` command (package.json's bin): runs cli/main.ts with this process's arguments,
 * environment and streams. `kuueri-tasks --help` says what it does.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { main } from './cli/main.js';
import { UsageError } from './cli/usage-error.js';

function readFile(path: string): Uint8Array {
  try {
    return readFileSync(path === '-' ? 0 : path);
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

process.exitCode = await main(process.argv.slice(2), {
  env: process.env,
  home: homedir(),
  stdout: (text) => void process.stdout.write(`${text}\n`),
  stderr: (text) => void process.stderr.write(`${text}\n`),
  readFile,
});
