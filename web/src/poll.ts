/*
 * Live data by polling: the API needs the Authorization header, which EventSource cannot send, and
 * the token must never travel in a URL. A poll starts after the previous answer, so a slow server
 * is never asked twice at once.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from './api.js';

/** How often the screens look again: a task's state shows within this of changing. */
export const POLL_MS = 2_000;

export interface Polled<T> {
  data: T | null;
  error: string | null;
  /** Fetch again now (after an action), without waiting for the next turn. */
  refresh: () => void;
}

/** Calls `load` now and every `everyMs` after each answer, while the component is shown and `key` unchanged. */
export function usePoll<T>(load: () => Promise<T>, key: string, everyMs = POLL_MS): Polled<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const kick = useRef<() => void>(() => undefined);
  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    let running = false;
    const run = async (): Promise<void> => {
      if (running) return;
      running = true;
      window.clearTimeout(timer);
      try {
        const value = await load();
        if (!stopped) {
          setData(value);
          setError(null);
        }
      } catch (e) {
        if (!stopped) setError(describeError(e));
      } finally {
        running = false;
        if (!stopped) timer = window.setTimeout(() => void run(), everyMs);
      }
    };
    kick.current = () => void run();
    setData(null);
    setError(null);
    void run();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [key]);
  return { data, error, refresh: () => kick.current() };
}
