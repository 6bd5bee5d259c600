import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { luaFieldTable, luaTimelineTable } from './codec.js';
import { luaResultTable } from './script-results.js';
import { type Argument, type ArgumentChunks, EncodedCommand } from './encoded-command.js';

const SCRIPTS_DIR = fileURLToPath(new URL('./scripts/', import.meta.url));

export type LuaReply = string | Buffer | number | null | LuaReply[];

/** What runs before every script: the generated tables, then scripts/prelude.lua's helpers. */
const PRELUDE = luaFieldTable() + luaResultTable() + luaTimelineTable() + readFileSync(`${SCRIPTS_DIR}prelude.lua`, 'utf8');

/**
 * A Lua script kept as a file in ./scripts, named `<name>-<number of keys>.lua` (the BullMQ
 * convention) with a header that lists KEYS, ARGV and return values. Each runs after the prelude:
 * three generated tables, the task hash's fields (codec.ts luaFieldTable: FIELDS, AT, LINE), the
 * result codes (script-results.ts: RESULT) and the timeline's bound (codec.ts luaTimelineTable:
 * TIMELINE), then scripts/prelude.lua (an ARGV reader, the timeline's cut); a script's shebang line
 * (`#!lua flags=allow-oom`) stays first. Run with
 * EVALSHA; loaded with SCRIPT LOAD the first time a server does not know it (after a restart, or on
 * a new server).
 */
export class LuaScript {
  readonly sha: string;

  private constructor(
    readonly name: string,
    readonly keyCount: number,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  static load(file: string): LuaScript {
    const match = /^([a-z-]+)-(\d+)\.lua$/.exec(file);
    if (!match) throw new Error(`Lua script file name must be <name>-<keys>.lua: ${file}`);
    const text = readFileSync(SCRIPTS_DIR + file, 'utf8');
    // A shebang line (`#!lua flags=...`, Redis 7) must stay the script's first line.
    const shebang = /^#!.*\n/.exec(text)?.[0] ?? '';
    return new LuaScript(match[1]!, Number(match[2]), shebang + PRELUDE + text.slice(shebang.length));
  }

  /**
   * `args` are the script's first arguments; `more` follows them in pieces (a batch's items), so
   * a batch is encoded without being copied into one array first. With `buffers`, strings in the
   * reply come as Buffers (for binary values).
   */
  async run(
    client: Redis,
    keys: readonly string[],
    args: readonly (Argument | number)[],
    more: ArgumentChunks = [],
    options: { buffers?: boolean } = {},
  ): Promise<LuaReply> {
    if (keys.length !== this.keyCount) throw new Error(`${this.name} takes ${this.keyCount} keys, got ${keys.length}`);
    const chunks: (readonly Argument[])[] = [
      [this.sha, String(this.keyCount), ...keys],
      args.map((a) => (typeof a === 'number' ? String(a) : a)),
    ];
    for (const chunk of more) chunks.push(chunk);
    const replyEncoding = options.buffers ? null : 'utf8';
    try {
      return await this.send(client, chunks, replyEncoding);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      await client.script('LOAD', this.source);
      return this.send(client, chunks, replyEncoding);
    }
  }

  private send(client: Redis, chunks: ArgumentChunks, replyEncoding: 'utf8' | null): Promise<LuaReply> {
    return client.sendCommand(new EncodedCommand('evalsha', chunks, { replyEncoding })) as Promise<LuaReply>;
  }
}

export const SCRIPTS = {
  insertProject: LuaScript.load('insert-project-2.lua'),
  insertTasks: LuaScript.load('insert-tasks-1.lua'),
  replaceTasks: LuaScript.load('replace-tasks-1.lua'),
  deleteTask: LuaScript.load('delete-task-7.lua'),
  claimDue: LuaScript.load('claim-due-3.lua'),
  renewLeases: LuaScript.load('renew-leases-1.lua'),
  releaseLeases: LuaScript.load('release-leases-2.lua'),
  findTask: LuaScript.load('find-task-2.lua'),
  readTimeline: LuaScript.load('read-timeline-2.lua'),
  readAttempts: LuaScript.load('read-attempts-2.lua'),
  listTasks: LuaScript.load('list-tasks-0.lua'),
  writeSchedule: LuaScript.load('write-schedule-2.lua'),
  writeCircuit: LuaScript.load('write-circuit-1.lua'),
  flowSettle: LuaScript.load('flow-settle-0.lua'),
  writeFlow: LuaScript.load('write-flow-0.lua'),
  readFlows: LuaScript.load('read-flows-0.lua'),
} as const;

/**
 * Loads every script at connect, so the first claim or write does not pay a NOSCRIPT round trip
 * (and a burst of first writes does not load the same script once each). A Redis restarted later
 * forgets them; run() loads them again then.
 */
export async function loadScripts(client: Redis): Promise<void> {
  await Promise.all(Object.values(SCRIPTS).map((script) => client.script('LOAD', script.source)));
}
