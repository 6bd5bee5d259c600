/*
 * Waiting in tests. A test waits for something it can observe — a condition polled until it holds,
 * or a promise — always with a bound, and with a description the timeout message names:
 *
 *   await waitFor('the task to reach the target', () => target.requests.length > 0);
 *   const exit = await waitFor('the process to exit', server.exited, { timeoutMs: 15_000 });
 *
 * Where time passing is itself what a test needs (a due time must go by while no server runs, a
 * kill must land at a random moment), it holds for a while through `holdFor`/`holdUntil`, whose
 * `why` says so; no other fixed sleep belongs in a test.
 */

export interface WaitOptions {
  /** Give up after this long (default 15 s). */
  timeoutMs?: number;
  /** Look again this often (default 25 ms); not used when waiting for a promise. */
  everyMs?: number;
}

/** What is awaited, as the timeout message goes on: "waiting for <what>". A function is read at the timeout, to say how far it got. */
export type Description = string | (() => string);

/** What a check answers while the condition does not hold yet. */
type NotYet = undefined | null | false;

const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_EVERY_MS = 25;

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

function timedOut(what: Description, timeoutMs: number): Error {
  return new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
}

/**
 * Resolves with the first answer of `check` that is not undefined, null or false (so a boolean
 * check resolves with true, a lookup with what it found), or with the value of a promise; rejects
 * once `timeoutMs` has passed. An error thrown by the check is thrown at once.
 */
export function waitFor<T>(what: Description, promise: Promise<T>, options?: WaitOptions): Promise<T>;
export function waitFor<T>(what: Description, check: () => T | NotYet | Promise<T | NotYet>, options?: WaitOptions): Promise<T>;
export async function waitFor<T>(
  what: Description,
  condition: Promise<T> | (() => T | NotYet | Promise<T | NotYet>),
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (typeof condition !== 'function') {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        condition,
        new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(timedOut(what, timeoutMs)), timeoutMs))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() >= deadline) throw timedOut(what, timeoutMs);
    await pause(Math.min(options.everyMs ?? DEFAULT_EVERY_MS, deadline - Date.now()));
  }
}

/**
 * Lets `ms` pass. Only for a test where time passing is the point and no event marks it; `why`
 * says which (and is named in the error should `ms` not be a number).
 */
export async function holdFor(ms: number, why: string): Promise<void> {
  if (!Number.isFinite(ms)) throw new Error(`cannot hold for ${ms} ms (${why})`);
  await pause(ms);
}

/** Lets the wall clock reach `epochMs`, as `holdFor` does a duration. */
export async function holdUntil(epochMs: number, why: string): Promise<void> {
  if (!Number.isFinite(epochMs)) throw new Error(`cannot hold until ${epochMs} (${why})`);
  while (Date.now() < epochMs) await pause(epochMs - Date.now());
}
