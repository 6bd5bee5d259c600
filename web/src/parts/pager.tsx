/*
 * Paging by the API's cursors (`nextCursor`): the cursors of the pages before this one and this
 * one's, kept for the listing they were made for, so a new filter starts at its first page.
 */
import { useState } from 'preact/hooks';

export interface Paging {
  /** This page's cursor; null: the first page. */
  cursor: string | null;
  back: (() => void) | null;
  forward: (next: string) => void;
}

/** The pages of the listing `of` names (its filter, say); another `of` starts at the first page. */
export function usePaging(of: string): Paging {
  const [paging, setPaging] = useState<{ of: string; cursors: (string | null)[] }>({ of, cursors: [null] });
  const cursors = paging.of === of ? paging.cursors : [null];
  return {
    cursor: cursors[cursors.length - 1] ?? null,
    back: cursors.length > 1 ? () => setPaging({ of, cursors: cursors.slice(0, -1) }) : null,
    forward: (next) => setPaging({ of, cursors: [...cursors, next] }),
  };
}

/** Previous and next page; `next` is the answer's `nextCursor` (none while loading). */
export function Pager({ paging, next }: { paging: Paging; next: string | null | undefined }) {
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={!paging.back} onClick={() => paging.back?.()}>
        Previous page
      </button>
      <button type="button" disabled={!next} onClick={() => next && paging.forward(next)}>
        Next page
      </button>
    </nav>
  );
}
