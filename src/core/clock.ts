/**
 * Time enters the service through a `Clock` only, so the state machine and the scheduler can be
 * driven by a test clock. Times are epoch milliseconds (UTC).
 */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
};

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
