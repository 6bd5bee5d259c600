/*
 * The CLI: `kuueri-tasks <command> [arguments] [--json]`. Reads its arguments with node:util
 * parseArgs, its settings as cli/config.ts says, runs the command, and answers the exit status:
 * 0 done, 1 the API answered an error (its code and message on stderr) or could not be reached,
 * 2 a usage or configuration mistake. Nothing here prints the token but `register`.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { KuueriTasksClient } from '../client.js';
import { KuueriTasksError } from '../errors.js';
import { COMMANDS, type Command, type Values } from './commands.js';
import { DEFAULT_URL, ENV, type Environment, resolveSettings } from './config.js';
import { UsageError } from './usage-error.js';

/** What the CLI reads and writes besides its arguments: the caller's, so tests can give their own. */
export interface Io {
  env: Environment;
  /** The user's home folder (the default config file is under it). */
  home: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** A file's bytes; `-` is stdin. */
  readFile: (path: string) => Uint8Array;
}

const GLOBAL_OPTIONS = {
  json: { type: 'boolean' },
  server: { type: 'string' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const NAME = 'kuueri-tasks';

function generalHelp(): string {
  const width = Math.max(...COMMANDS.map((command) => command.usage.split('   |')[0]!.length));
  return [
    `Usage: ${NAME} <command> [arguments] [options]`,
    '',
    'Commands:',
    ...COMMANDS.map((command) => `  ${command.usage.split('   |')[0]!.padEnd(width)}  ${command.summary}`),
    '',
    'Options of every command:',
    "  --json          print the API's JSON instead of text",
    `  --server URL    the server (else ${ENV.url}, the config file's "url", ${DEFAULT_URL})`,
    `  --config PATH   the config file (else ${ENV.config}, $XDG_CONFIG_HOME/kuueri-tasks/config.json,`,
    '                  ~/.config/kuueri-tasks/config.json)',
    '  -h, --help      help on a command: kuueri-tasks <command> --help',
    '',
    'Settings, each from the first place that has it:',
    `  server URL   --server, ${ENV.url}, the config file's "url", ${DEFAULT_URL}`,
    `  project      ${ENV.project}, the config file's "project"`,
    `  token        ${ENV.token}, the config file's "token"`,
    'The config file is JSON: {"url": "…", "project": "…", "token": "…"}; register --save writes it (mode 0600).',
    '',
    'Exit status: 0 done; 1 the server answered an error or could not be reached; 2 a usage or configuration mistake.',
  ].join('\n');
}

function commandHelp(command: Command): string {
  return [
    `Usage: ${NAME} ${command.usage}`,
    '',
    command.summary,
    ...(command.details ? ['', 'Options:', ...command.details.split('\n').map((line) => `  ${line}`)] : []),
    '',
    `Every command also takes --json, --server URL, --config PATH (see ${NAME} --help).`,
  ].join('\n');
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs the CLI with `argv` (the arguments after the program's name); answers the exit status. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr(`${NAME}: give a command\n\n${generalHelp()}`);
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    const command = COMMANDS.find((candidate) => candidate.name === topic);
    if (topic !== undefined && command === undefined) return usage(io, `unknown command ${JSON.stringify(topic)}`);
    io.stdout(command ? commandHelp(command) : generalHelp());
    return 0;
  }
  if (name === '--version') {
    io.stdout(version());
    return 0;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (command === undefined) return usage(io, `unknown command ${JSON.stringify(name)}`);

  let values: Values;
  let positionals: string[];
  try {
    const parsed = parseArgs({ args: [...rest], options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true });
    values = parsed.values;
    positionals = parsed.positionals;
  } catch (error) {
    return usage(io, (error as Error).message, command);
  }
  if (values.help === true) {
    io.stdout(commandHelp(command));
    return 0;
  }
  const json = values.json === true;
  try {
    const [least, most] = command.positionals;
    if (positionals.length < least || positionals.length > most) throw new UsageError(`usage: ${NAME} ${command.usage}`);
    const settings = resolveSettings(
      { server: values.server as string | undefined, config: values.config as string | undefined },
      io.env,
      io.home,
    );
    if (command.credentials && (settings.project === undefined || settings.token === undefined)) {
      throw new UsageError(
        `${command.name} needs the project and its token: set ${ENV.project} and ${ENV.token}, ` +
          `or put them in the config file (${settings.configPath}; register --save writes it)`,
      );
    }
    let client: KuueriTasksClient;
    try {
      client = new KuueriTasksClient({ url: settings.url, project: settings.project, token: settings.token });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const print = (text: string): void => io.stdout(text);
    const status = await command.run({ client, settings, json, print, readFile: io.readFile }, values, positionals);
    // A command that returns early answers whatever its last call did: only a number is a status.
    return typeof status === 'number' ? status : 0;
  } catch (error) {
    if (error instanceof UsageError) return usage(io, error.message, command);
    if (error instanceof KuueriTasksError) {
      if (json) {
        io.stderr(JSON.stringify({ statusCode: error.status, code: error.code, message: error.message, issues: error.issues }));
      } else {
        io.stderr(
          [`${NAME}: ${error.code} (${error.status}): ${error.message}`, ...error.issues.map((i) => `  ${i.field}: ${i.message}`)].join(
            '\n',
          ),
        );
      }
      return 1;
    }
    // fetch rejects with "fetch failed" and the reason as its cause.
    const cause = (error as { cause?: unknown }).cause;
    const reason = cause instanceof Error ? cause.message : (error as Error).message;
    io.stderr(`${NAME}: the request failed: ${reason}`);
    return 1;
  }
}

function usage(io: Io, message: string, command?: Command): number {
  io.stderr(`${NAME}: ${message}\nSee ${NAME} ${command ? `${command.name} --help` : '--help'}.`);
  return 2;
}
