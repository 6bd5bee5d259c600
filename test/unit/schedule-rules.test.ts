import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TestClock } from '../../src/core/clock.js';
import { cronProblem, isTimeZone } from '../../src/core/cron.js';
import {
  MISSED_AFTER_MS,
  type Schedule,
  type StepOptions,
  afterStep,
  nextInstant,
  nextStep,
  pauseSchedule,
  resumeSchedule,
  runExecAt,
} from '../../src/core/schedule.js';
import { DEFAULT_CONFIG } from '../../src/core/subscription.js';

const OPTIONS: StepOptions = { leadMs: 1_000, catchUpMax: 3 };
const iso = (ms: number): string => new Date(ms).toISOString();
const at = (text: string): number => Date.parse(text);

function schedule(fields: Partial<Schedule> = {}): Schedule {
  return {
    id: '01KDXQ0000ABCDEFGHJKMNPQRS',
    projectId: '01KDXQ0000ZZZZZZZZZZZZZZZZ',
    cron: '0 * * * *',
    timezone: 'UTC',
    config: DEFAULT_CONFIG,
    request: Buffer.from('sealed'),
    hostTag: '',
    tags: [],
    flowKey: '',
    overlap: 'allow',
    catchUp: 'latest',
    jitterMs: 0,
    startAt: 0,
    endAt: 0,
    createdAt: 0,
    state: 'ACTIVE',
    nextRunAt: 0,
    lastRunAt: 0,
    lastTaskId: '',
    runs: 0,
    skipped: 0,
    ...fields,
  };
}

/**
 * Runs a schedule with a test clock as the scheduler would, from `from` to `to`: each step at the
 * time it asks for. Answers the instants of the runs made, as ISO strings.
 */
function runsBetween(fields: Partial<Schedule>, from: string, to: string): string[] {
  const clock = new TestClock(at(from));
  let s = schedule({ ...fields, nextRunAt: nextInstant(schedule(fields), clock.now()) });
  const made: string[] = [];
  while (s.state === 'ACTIVE' && clock.now() < at(to)) {
    const step = nextStep(s, clock.now(), false, OPTIONS);
    if (step.kind === 'wait') {
      clock.set(step.at);
      continue;
    }
    if (step.kind === 'run') made.push(iso(step.instant));
    s = afterStep(s, step, 'task');
  }
  return made.filter((t) => at(t) < at(to));
}

describe('cron expressions and time zones', () => {
  test('5 fields, or 6 with seconds first; anything else is refused with a reason', () => {
    assert.equal(cronProblem('*/5 * * * *'), null);
    assert.equal(cronProblem('*/10 * * * * *'), null);
    assert.match(cronProblem('* * * *') ?? '', /5 fields/);
    assert.match(cronProblem('* * * * * * *') ?? '', /5 fields/);
    assert.match(cronProblem('61 * * * *') ?? '', /not a valid cron expression/);
    assert.ok(isTimeZone('Europe/Berlin'));
    assert.ok(!isTimeZone('Mars/Olympus'));
  });

  test('seconds count with 6 fields; instants are read in the time zone', () => {
    assert.equal(iso(nextInstant(schedule({ cron: '*/15 * * * * *' }), at('2026-01-01T00:00:01Z'))), '2026-01-01T00:00:15.000Z');
    // 09:00 in Berlin is 08:00 UTC in winter.
    assert.equal(
      iso(nextInstant(schedule({ cron: '0 9 * * *', timezone: 'Europe/Berlin' }), at('2026-01-01T00:00:00Z'))),
      '2026-01-01T08:00:00.000Z',
    );
  });

  test('startAt is inclusive and endAt exclusive', () => {
    const s = schedule({ cron: '0 * * * *', startAt: at('2026-01-01T05:00:00Z'), endAt: at('2026-01-01T07:00:00Z') });
    assert.equal(iso(nextInstant(s, at('2026-01-01T00:00:00Z'))), '2026-01-01T05:00:00.000Z');
    assert.equal(iso(nextInstant(s, at('2026-01-01T05:00:00Z'))), '2026-01-01T06:00:00.000Z');
    assert.equal(nextInstant(s, at('2026-01-01T06:00:00Z')), 0, 'the run at endAt is not made');
  });
});

// Daylight saving time, as croner does it and docs/architecture.md documents: a run in the hour
// that is skipped (spring forward) runs at the end of the gap; a run in the hour that repeats (fall
// back) runs once, at its first occurrence. A schedule whose hour is a wildcard or a step runs
// on real elapsed hours: none in the gap, both occurrences of the repeated hour.
describe('daylight saving time, with a test clock', () => {
  const zones = [
    {
      zone: 'America/New_York',
      spring: '2026-03-08',
      fall: '2026-11-01',
      gapHour: 2,
      repeated: 1,
      springUtc: '07:00',
      fallFirstUtc: '05:30',
    },
    { zone: 'Europe/Berlin', spring: '2026-03-29', fall: '2026-10-25', gapHour: 2, repeated: 2, springUtc: '01:00', fallFirstUtc: '00:30' },
  ];
  for (const z of zones) {
    test(`${z.zone}: a run in the skipped hour runs once, at the end of the gap`, () => {
      const runs = runsBetween({ cron: `30 ${z.gapHour} * * *`, timezone: z.zone }, `${z.spring}T00:00:00Z`, `${z.spring}T23:59:00Z`);
      // The end of the gap is 03:00 local, daylight time.
      assert.deepEqual(runs, [`${z.spring}T${z.springUtc}:00.000Z`]);
      const local = new Date(at(runs[0]!)).toLocaleTimeString('en-GB', { timeZone: z.zone });
      assert.equal(local, '03:00:00');
    });

    test(`${z.zone}: a run in the repeated hour runs once, at its first occurrence`, () => {
      const runs = runsBetween({ cron: `30 ${z.repeated} * * *`, timezone: z.zone }, `${z.fall}T00:00:00Z`, `${z.fall}T23:59:00Z`);
      assert.deepEqual(runs, [`${z.fall}T${z.fallFirstUtc}:00.000Z`]);
    });

    test(`${z.zone}: an hourly schedule runs on elapsed hours across both changes`, () => {
      // From 01:00 UTC to 11:00 UTC: eleven runs, an hour apart in real time.
      const hourApart = (runs: string[]): boolean => runs.every((t, i) => i === 0 || at(t) - at(runs[i - 1]!) === 3_600_000);
      const spring = runsBetween({ cron: '0 * * * *', timezone: z.zone }, `${z.spring}T00:00:00Z`, `${z.spring}T12:00:00Z`);
      assert.equal(spring.length, 11, 'none is made for the hour that does not exist');
      assert.ok(hourApart(spring), spring.join(' '));
      const fall = runsBetween({ cron: '0 * * * *', timezone: z.zone }, `${z.fall}T00:00:00Z`, `${z.fall}T12:00:00Z`);
      assert.equal(fall.length, 11, 'the repeated hour runs twice on the wall clock');
      assert.ok(hourApart(fall), fall.join(' '));
    });

    test(`${z.zone}: a daily run keeps its local time across the changes`, () => {
      const runs = runsBetween({ cron: '0 9 * * *', timezone: z.zone }, `${z.spring}T00:00:00Z`, `${z.fall}T23:59:00Z`);
      const locals = new Set(runs.map((t) => new Date(at(t)).toLocaleTimeString('en-GB', { timeZone: z.zone })));
      assert.deepEqual([...locals], ['09:00:00']);
    });
  }
});

describe('the scheduler steps', () => {
  const hourly = (fields: Partial<Schedule> = {}): Schedule => schedule({ nextRunAt: at('2026-01-01T10:00:00Z'), ...fields });

  test('a run is made its lead ahead of its instant, not before', () => {
    const s = hourly();
    assert.deepEqual(nextStep(s, at('2026-01-01T09:59:58Z'), false, OPTIONS), { kind: 'wait', at: at('2026-01-01T09:59:59Z') });
    assert.deepEqual(nextStep(s, at('2026-01-01T09:59:59Z'), false, OPTIONS), {
      kind: 'run',
      instant: at('2026-01-01T10:00:00Z'),
      next: at('2026-01-01T11:00:00Z'),
    });
  });

  test('a run reached a little late (within MISSED_AFTER_MS) is still made, whatever the catch-up policy', () => {
    const step = nextStep(hourly({ catchUp: 'none' }), at('2026-01-01T10:00:00Z') + MISSED_AFTER_MS - 1, false, OPTIONS);
    assert.equal(step.kind, 'run');
  });

  test("catch-up 'none' skips every missed run, uncounted", () => {
    const s = hourly({ catchUp: 'none' });
    const step = nextStep(s, at('2026-01-01T15:30:00Z'), false, OPTIONS);
    assert.deepEqual(step, { kind: 'skip', next: at('2026-01-01T16:00:00Z'), counted: false });
    assert.equal(afterStep(s, step).skipped, 0);
  });

  test("catch-up 'latest' makes the latest missed run only", () => {
    const runs = catchUp('latest');
    assert.deepEqual(runs, ['2026-01-01T15:00:00.000Z']);
  });

  test("catch-up 'all' makes the missed runs up to its bound, the latest ones", () => {
    assert.deepEqual(catchUp('all'), ['2026-01-01T13:00:00.000Z', '2026-01-01T14:00:00.000Z', '2026-01-01T15:00:00.000Z']);
  });

  /** A schedule due at 10:00 whose server came back at 15:30: the runs made before it waits for 16:00. */
  function catchUp(policy: Schedule['catchUp']): string[] {
    let s = hourly({ catchUp: policy });
    const now = at('2026-01-01T15:30:00Z');
    const made: string[] = [];
    for (;;) {
      const step = nextStep(s, now, false, OPTIONS);
      if (step.kind === 'wait') break;
      if (step.kind === 'run') made.push(iso(step.instant));
      s = afterStep(s, step, 'task');
    }
    assert.equal(iso(s.nextRunAt), '2026-01-01T16:00:00.000Z');
    return made;
  }

  test("overlap 'skip': a last task still active at the lead time waits for the instant, then the run is skipped and counted", () => {
    const s = hourly({ overlap: 'skip', lastTaskId: 'previous' });
    assert.deepEqual(nextStep(s, at('2026-01-01T09:59:59Z'), true, OPTIONS), { kind: 'wait', at: at('2026-01-01T10:00:00Z') });
    const step = nextStep(s, at('2026-01-01T10:00:00Z'), true, OPTIONS);
    assert.deepEqual(step, { kind: 'skip', next: at('2026-01-01T11:00:00Z'), counted: true });
    const after = afterStep(s, step);
    assert.equal(after.skipped, 1);
    assert.equal(after.runs, 0);
    // Finished by the instant: the run is made.
    assert.equal(nextStep(s, at('2026-01-01T10:00:00Z'), false, OPTIONS).kind, 'run');
    // 'allow' runs over it.
    assert.equal(nextStep({ ...s, overlap: 'allow' }, at('2026-01-01T09:59:59Z'), true, OPTIONS).kind, 'run');
  });

  test('the run after the last before endAt ends the schedule', () => {
    const s = hourly({ endAt: at('2026-01-01T10:30:00Z') });
    const step = nextStep(s, at('2026-01-01T10:00:00Z'), false, OPTIONS);
    assert.deepEqual(step, { kind: 'run', instant: at('2026-01-01T10:00:00Z'), next: 0 });
    const after = afterStep(s, step, 'T1');
    assert.equal(after.state, 'ENDED');
    assert.equal(after.runs, 1);
    assert.equal(after.lastTaskId, 'T1');
    assert.equal(after.lastRunAt, at('2026-01-01T10:00:00Z'));
  });

  test('jitter is a draw in [0, jitterMs] after the instant; a late run executes now', () => {
    const instant = at('2026-01-01T10:00:00Z');
    assert.equal(runExecAt({ jitterMs: 0 }, instant, instant - 1_000, 0.99), instant);
    assert.equal(runExecAt({ jitterMs: 500 }, instant, instant - 1_000, 0), instant);
    assert.equal(runExecAt({ jitterMs: 500 }, instant, instant - 1_000, 0.9999999), instant + 500);
    assert.equal(runExecAt({ jitterMs: 500 }, instant, instant + 60_000, 0.5), instant + 60_000);
  });

  test('pause clears the next run; resume starts from the first instant after it (the paused runs are not made)', () => {
    const paused = pauseSchedule(hourly());
    assert.equal(paused.state, 'PAUSED');
    assert.equal(paused.nextRunAt, 0);
    const resumed = resumeSchedule(paused, at('2026-01-01T15:30:00Z'));
    assert.equal(resumed.state, 'ACTIVE');
    assert.equal(iso(resumed.nextRunAt), '2026-01-01T16:00:00.000Z');
    assert.equal(resumeSchedule({ ...paused, endAt: at('2026-01-01T12:00:00Z') }, at('2026-01-01T15:30:00Z')).state, 'ENDED');
  });
});
