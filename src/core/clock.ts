/**
 * Time enters the service through a `Clock` only, so the state machine and the scheduler can be
 * driven by a test clock. Times are epoch milliseconds (UTC).
 */
export interface Clock {
  now(): number;
}

/** Milliseconds from an arbitrary origin that never jumps (the kernel's monotonic clock). */
export type Monotonic = () => number;

export const monotonic: Monotonic = () => performance.now();

/**
 * The wall clock read on the monotonic clock, so that it never runs backward. Every due time, lease
 * and wait of the server is a difference between two readings of its clock: were it the wall clock
 * itself, a step back (NTP correcting a fast clock, an operator's `date -s`) would leave every task
 * due "later" by the size of the step, and dispatch would stall that long. Here a step back is not
 * followed: the clock goes on counting real time from where it was, and tasks run after the delays
 * they asked for. A step forward (a slow clock corrected, a virtual machine resumed) is followed at
 * once, as it only makes tasks due sooner. Between steps both clocks advance together (NTP slews
 * them alike). Guarded by test/unit/clock.test.ts and test/http/clock-step.test.ts.
 */
/** A wall clock behind the steady reading by more than this has been set back. */
const STEP_BACK_MS = 5;

export class SteadyClock implements Clock {
  /** Wall time minus monotonic time: the largest seen, so steps back are ignored. */
  private offset = -Infinity;
  /** The latest reading answered. */
  private last = -Infinity;

  constructor(
    private readonly wall: () => number = () => Date.now(),
    private readonly mono: Monotonic = monotonic,
  ) {}

  now(): number {
    const mono = this.mono();
    const wall = this.wall();
    if (wall - mono > this.offset) this.offset = wall - mono;
    const steady = Math.floor(mono + this.offset);
    // The two clocks are read apart and the wall clock in whole milliseconds, so the largest offset
    // seen runs up to a millisecond ahead of the wall clock: while the wall clock is that close, it
    // is the answer (a task is never sent before its time by the wall clock); after a step back,
    // the steady reading is.
    const reading = wall >= steady - STEP_BACK_MS ? Math.min(wall, steady) : steady;
    if (reading > this.last) this.last = reading;
    return this.last;
  }
}

/** The process's clock: the system's wall clock that never runs backward (SteadyClock). */
export const systemClock: Clock = new SteadyClock();

/** A clock that moves only when told to. */
export class TestClock implements Clock {
  private current: number;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  advance(ms: number): number {
    this.current += ms;
    return this.current;
  }

  set(at: number): void {
    this.current = at;
  }
}
