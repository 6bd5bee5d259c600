/*
 * A screen's actions on the API: each clears what the last one said, then says what it did (a
 * status) or why it failed (an error), and after a success the screen's data is fetched again.
 */
import { useState } from 'preact/hooks';
import { describeError } from './api.js';

export interface Actions {
  status: string | null;
  error: string | null;
  /** Runs `run`; `done` is said when it succeeds, and `refresh` is called. */
  act: (done: string, run: () => Promise<unknown>) => Promise<void>;
  /** Says why an action the screen ran itself failed. */
  fail: (error: unknown) => void;
}

export function useActions(refresh: () => void): Actions {
  const [status, setStatus] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const fail = (e: unknown): void => setError(describeError(e));
  const act = async (done: string, run: () => Promise<unknown>): Promise<void> => {
    setError(null);
    setStatus(null);
    try {
      await run();
      setStatus(done);
      refresh();
    } catch (e) {
      fail(e);
    }
  };
  return { status, error, act, fail };
}
