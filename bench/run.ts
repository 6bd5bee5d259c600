/*
 * `npm run bench`: builds the server (the npm script runs `npm run build` first), starts every
 * process it needs on 127.0.0.1, runs each scenario on SQLite and on Redis, prints a table and
 * writes bench/results/<date>.json. See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { BenchContext, log, machineLoad } from './lib/context.js';
import { type Options, SCENARIOS, type ScenarioName, type StoreName, parseOptions } from './lib/options.js';
import { createHash } from 'node:crypto';
import { MAIN, REPO, distFingerprint, installExitHandlers, killAllSync, liveChildren } from './lib/procs.js';
import { type Row, renderTable } from './lib/report.js';
import { batchScenario } from './scenarios/batch.js';
import { bullmqRows, bullmqScenario } from './scenarios/bullmq.js';
import { dispatchScenario } from './scenarios/dispatch.js';
import { noisyScenario } from './scenarios/noisy.js';
import { flowScenario } from './scenarios/flow.js';
import { listingScenario } from './scenarios/listing.js';
import { scaleScenario } from './scenarios/scale.js';
import { schedulesScenario } from './scenarios/schedules.js';
import { subscribeScenario } from './scenarios/subscribe.js';
import { timingScenario } from './scenarios/timing.js';

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** The commit, and whether (and how) src/ differs from it: what the dist/ under test was built from. */
function gitState(): { commit: string; srcDirty: boolean; srcDiffSha1: string | null } {
  const diff = git(['diff', 'HEAD', '--', 'src']);
  const untracked = git(['ls-files', '--others', '--exclude-standard', '--', 'src']);
  const dirty = diff !== '' || untracked !== '';
  return {
    commit: git(['rev-parse', 'HEAD']),
    srcDirty: dirty,
    srcDiffSha1: dirty ? createHash('sha1').update(diff).update(untracked).digest('hex').slice(0, 12) : null,
  };
}

function machine(): Record<string, unknown> {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model ?? 'unknown',
    arch: arch(),
    kernel: release(),
    totalMemMb: Math.round(totalmem() / 1048576),
    node: process.version,
  };
}

function resultPath(options: Options, date: string): string {
  if (options.out) return options.out;
  const parts = [...(options.quick ? ['quick'] : []), ...(options.only.length < SCENARIOS.length ? [options.only.join('+')] : [])];
  const suffix = parts.map((p) => `-${p}`).join('');
  return join(REPO, 'bench', 'results', `${date}${suffix}.json`);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  installExitHandlers();
  const watchdog = setTimeout(() => {
    process.stderr.write(`\nbench: still running after ${options.maxMinutes} minutes; stopping every process\n`);
    killAllSync();
    process.exit(2);
  }, options.maxMinutes * 60_000);
  watchdog.unref();

  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` (npm run bench does)`);
  const startedAt = new Date();
  const date = startedAt.toISOString().slice(0, 10);
  const gitBefore = gitState();
  const distBefore = distFingerprint();
  const loadBefore = loadavg();
  const pressureBefore = machineLoad();
  log(
    `bench: runs ${options.runs}${options.quick ? ', quick sizes' : ''}; scenarios ${options.only.join(', ')}; stores ${options.stores.join(', ')}; load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')}`,
  );

  const wants = (s: ScenarioName): boolean => options.only.includes(s);
  const needsRedis = options.stores.includes('redis') || wants('bullmq');
  const ctx = new BenchContext(options);
  const rows: Row[] = [];
  const scenarios: Record<string, unknown> = {};
  const failures: string[] = [];
  const bullmqRowsLater: Row[] = [];
  const runScenario = async (
    name: string,
    store: StoreName | null,
    body: () => Promise<{ runs: unknown[]; rows: Row[] }>,
  ): Promise<void> => {
    const key = store ? `${name}/${store}` : name;
    log(`── ${key} ──`);
    try {
      const result = await body();
      scenarios[key] = { runs: result.runs, rows: result.rows };
      rows.push(...result.rows);
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      log(`${key} failed: ${message}`);
      failures.push(`${key}: ${message.split('\n')[0]}`);
      scenarios[key] = { error: message };
      rows.push({
        scenario: name,
        store: store ?? 'redis',
        figure: 'error (see log)',
        ceiling: '—',
        ratio: '—',
        target: '—',
        verdict: 'FAIL',
        notes: [message.split('\n')[0]!],
      });
    }
  };

  try {
    await ctx.start({ redis: needsRedis, bare: wants('subscribe') });
    for (const store of options.stores) if (wants('subscribe')) await runScenario('subscribe', store, () => subscribeScenario(ctx, store));
    for (const store of options.stores) if (wants('batch')) await runScenario('batch', store, () => batchScenario(ctx, store));
    // On Redis, each dispatch run is paired with a BullMQ run on the same Redis (compared within the pair;
    // the order alternates, see dispatchScenario).
    let bullmqDone = false;
    for (const store of options.stores) {
      if (!wants('dispatch')) continue;
      const withBullmq = store === 'redis' && wants('bullmq');
      await runScenario('dispatch', store, async () => {
        const result = await dispatchScenario(ctx, store, withBullmq);
        if (withBullmq) {
          bullmqDone = true;
          const rows = bullmqRows(result.bullmqRuns);
          scenarios.bullmq = {
            runs: result.bullmqRuns,
            rows,
            note: 'each run paired with the dispatch/redis run of the same number: after it in odd-numbered runs, before it in even ones',
          };
          bullmqRowsLater.push(...rows);
        }
        return result;
      });
    }
    for (const store of options.stores) if (wants('timing')) await runScenario('timing', store, () => timingScenario(ctx, store));
    for (const store of options.stores) if (wants('noisy')) await runScenario('noisy', store, () => noisyScenario(ctx, store));
    for (const store of options.stores) if (wants('flow')) await runScenario('flow', store, () => flowScenario(ctx, store));
    for (const store of options.stores) if (wants('scale')) await runScenario('scale', store, () => scaleScenario(ctx, store));
    for (const store of options.stores) if (wants('listing')) await runScenario('listing', store, () => listingScenario(ctx, store));
    for (const store of options.stores) if (wants('schedules')) await runScenario('schedules', store, () => schedulesScenario(ctx, store));
    if (wants('bullmq') && !bullmqDone) await runScenario('bullmq', null, () => bullmqScenario(ctx));
    rows.push(...bullmqRowsLater);
  } finally {
    await ctx.stop().catch((error: unknown) => log(`stopping helpers: ${String(error)}`));
  }

  const loadAfter = loadavg();
  const pressureAfter = machineLoad();
  const footer = [
    `${options.runs} run(s) per figure; figures and ratios are medians over runs, each ratio taken within its run.`,
    `Machine: ${cpus().length} CPUs, node ${process.version}; load average before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(' ')}` +
      ` (CPU pressure ${pressureBefore.cpuPressure10}% → ${pressureAfter.cpuPressure10}%, I/O ${pressureBefore.ioPressure10}% → ${pressureAfter.ioPressure10}%).`,
  ];
  const gitAfter = gitState();
  const builds = Object.keys(ctx.distSeen);
  const changed = builds.length > 1 || (builds[0] !== undefined && builds[0] !== distBefore);
  if (changed)
    footer.push(
      `WARNING: dist/ changed during the bench (${builds.length} builds seen by the server starts, listed in the JSON under dist.serverStarts): runs measured different code.`,
    );
  if (gitAfter.commit !== gitBefore.commit || gitAfter.srcDiffSha1 !== gitBefore.srcDiffSha1) {
    footer.push(
      `Note: src/ changed during the bench (${gitBefore.commit.slice(0, 8)}${gitBefore.srcDirty ? '+dirty' : ''} → ${gitAfter.commit.slice(0, 8)}${gitAfter.srcDirty ? '+dirty' : ''}); what ran is dist/ as built at the start${changed ? ' and rebuilt since' : ''}.`,
    );
  }
  footer.push(
    `Measured: ${gitBefore.commit.slice(0, 8)}${gitBefore.srcDirty ? ` with uncommitted src/ changes (${gitBefore.srcDiffSha1 ?? ''})` : ''}, dist ${distBefore}.`,
  );
  if (options.quick) footer.push('--quick: sizes scaled down; the verdicts are indicative only (targets are set for the full sizes).');
  const table = renderTable(rows, footer);

  const file = resultPath(options, date);
  mkdirSync(join(file, '..'), { recursive: true });
  const report = {
    date,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    options,
    redisArgs: ctx.redisArgs,
    machine: { ...machine(), loadavgBefore: loadBefore, loadavgAfter: loadAfter, pressureBefore, pressureAfter },
    git: { atStart: gitBefore, atEnd: gitAfter },
    dist: { atStart: distBefore, seenByServerStarts: ctx.distSeen, changedDuringBench: changed, serverStarts: ctx.serverStarts },
    failures,
    table: rows,
    scenarios,
  };
  writeFileSync(file, `${JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);

  process.stdout.write(`\n${table}\n\nResults: ${file}\n`);
  if (options.profile && existsSync(ctx.profileDir)) {
    const recent = readdirSync(ctx.profileDir)
      .filter((f) => f.endsWith('.cpuprofile') && statSync(join(ctx.profileDir, f)).mtimeMs >= startedAt.getTime())
      .map((f) => join(ctx.profileDir, f));
    process.stdout.write(
      `Server CPU profiles (summarise with \`npx tsx bench/profile-summary.ts <file>\`):\n${recent.map((f) => `  ${f}`).join('\n')}\n`,
    );
  }
  // Every helper was stopped above; anything still tracked here is a bug of the bench: say so, then kill it.
  const left = liveChildren();
  if (left.length > 0) log(`processes still running at the end (killed now): ${left.join(', ')}`);
  killAllSync();
  process.exitCode = failures.length > 0 ? 1 : 0;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  killAllSync();
  process.exit(1);
});
