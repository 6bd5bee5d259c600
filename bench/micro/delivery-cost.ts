// What signing and the attempt log add to one delivery, without HTTP, in one process: rounds that
// alternate each pair of sides, so the machine's drift falls on both. Per delivery, the process's CPU
// (all threads: the SQLite checkpointer and the garbage collector's helpers included) of
//   sign    the Standard Webhooks headers over the bench's ~1 KB body, beside the attempt headers,
//           against the attempt headers alone;
//   record  claiming 5,000 due tasks 128 at a time and recording their outcomes, with the attempt
//           record (the answer `ok` sealed as the dispatcher does) in the same write, against without.
// Prints the medians of the rounds. Run:
// npx tsx bench/micro/delivery-cost.ts [--rounds 7] [--redis URL]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PAYLOAD_BYTES } from '../lib/bodies.js';
import { type AttemptRecord, excerptAad } from '../../src/core/attempt-log.js';
import { newId } from '../../src/core/ids.js';
import { createRequestCipher } from '../../src/core/sealed-request.js';
import { newSigningSecret, signingKeyOf, signingKeys, webhookHeaders, webhookId } from '../../src/core/signing.js';
import { DEFAULT_CONFIG } from '../../src/core/subscription.js';
import { applyOutcome, attemptHeaders, createTask } from '../../src/core/task-machine.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { StoredTask, TaskStore } from '../../src/store/task-store.js';

const arg = (name: string): string | undefined => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const rounds = Number(arg('--rounds') ?? 7);
const redisUrl = arg('--redis');
const N = 5_000;
const BATCH = 128;
const ANSWER = Buffer.from('ok');

const cipher = createRequestCipher(Buffer.alloc(32, 7));
const keys = signingKeys(signingKeyOf(newSigningSecret()), null, 0);
const dir = redisUrl ? undefined : mkdtempSync(join(tmpdir(), 'kuueri-delivery-cost-'));
const store: TaskStore = redisUrl
  ? await RedisStore.connect({ url: redisUrl, retentionSeconds: 3600, prefix: `cost${process.pid}:` })
  : new SqliteStore({ path: join(dir!, 'tasks.db') });
const projectId = newId(Date.now());
await store.insertProject({
  id: projectId,
  email: `${projectId.toLowerCase()}@cost.test`,
  tokenHash: Buffer.alloc(32),
  createdAt: 1,
  as: 'DEV',
});

/** CPU of the whole process in µs, user and system. */
const cpuNow = (): number => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

/** The dispatcher's record of a first attempt answered 200 `ok` (Dispatcher.attemptRecord). */
function attemptRecord(task: StoredTask, startedAt: number): AttemptRecord {
  const number = task.attempts + 1;
  return {
    number,
    startedAt,
    durationMs: 3,
    statusCode: 200,
    errorClass: null,
    excerpt: cipher.sealBytes(ANSWER, excerptAad(task.id, number)),
  };
}

/** µs of CPU per task to claim and record N new due tasks, with or without their attempt records. */
async function recordRound(withRecord: boolean): Promise<number> {
  const due = Date.now() + 60_000;
  await store.insertTasks(
    Array.from({ length: N }, () =>
      createTask(
        { id: newId(due), projectId, config: { ...DEFAULT_CONFIG, executionAt: due }, request: Buffer.alloc(1_000, 2) },
        due - 60_000,
      ),
    ),
    1e9,
  );
  const started = cpuNow();
  for (let done = 0; done < N;) {
    const claimed = await store.claimDue(due, BATCH, 15_000);
    if (claimed.length === 0) throw new Error(`only ${done} of ${N} tasks were claimed`);
    await Promise.all(
      claimed.map((task) => {
        const next = applyOutcome(task, { ok: true, statusCode: 200, excerpt: ANSWER }, due + 5);
        return store.replaceTask(task, next.task, next.entries, withRecord ? attemptRecord(task, due + 1) : undefined);
      }),
    );
    done += claimed.length;
  }
  return (cpuNow() - started) / N;
}

/** µs of CPU per delivery to build its headers, signed or not. */
function signRound(signed: boolean): number {
  const task = { id: newId(Date.now()), repeatCount: 0 };
  const template = createTask({ id: task.id, projectId, config: DEFAULT_CONFIG, request: Buffer.alloc(1) }, Date.now());
  let sink = 0;
  const started = cpuNow();
  for (let i = 0; i < N * 4; i++) {
    const headers = attemptHeaders(template);
    if (signed) webhookHeaders(keys, webhookId(task), Date.now(), PAYLOAD_BYTES, headers);
    sink += Object.keys(headers).length;
  }
  // Used, so the loop cannot be dropped; and a signed header set has three headers more.
  if (sink === 0) throw new Error('no headers were built');
  return (cpuNow() - started) / (N * 4);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sides = { recordWith: [] as number[], recordWithout: [] as number[], signed: [] as number[], unsigned: [] as number[] };
await recordRound(true); // warm-up: compiled code, SQLite's caches
for (let r = 0; r < rounds; r++) {
  const first = r % 2 === 0;
  sides[first ? 'recordWith' : 'recordWithout'].push(await recordRound(first));
  sides[first ? 'recordWithout' : 'recordWith'].push(await recordRound(!first));
  sides[first ? 'signed' : 'unsigned'].push(signRound(first));
  sides[first ? 'unsigned' : 'signed'].push(signRound(!first));
}
const show = (xs: number[]): string => `${median(xs).toFixed(1)} (${xs.map((x) => x.toFixed(1)).join(' ')})`;
console.log(
  `${redisUrl ? 'redis' : 'sqlite'}, µs of CPU per delivery, median of ${rounds} rounds:\n` +
    `  record with the attempt record ${show(sides.recordWith)}, without ${show(sides.recordWithout)}: ` +
    `+${(median(sides.recordWith) - median(sides.recordWithout)).toFixed(1)}\n` +
    `  headers signed ${show(sides.signed)}, unsigned ${show(sides.unsigned)}: +${(median(sides.signed) - median(sides.unsigned)).toFixed(1)}`,
);
await store.close();
if (dir) rmSync(dir, { recursive: true, force: true });
