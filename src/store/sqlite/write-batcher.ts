import type Database from 'better-sqlite3';

/*
 * Group commit. Writes asked for during one turn of the event loop run together in one
 * transaction, at the end of that turn. A commit writes every page a transaction touched to the
 * WAL, so twenty subscribes in one commit cost little more than one. Callers hear of their write
 * only after the commit, so nothing is acknowledged before it is durable.
 *
 * A write that throws must change nothing and fail alone. Writes rarely throw (an expected refusal
 * is better returned as a value), so a batch first runs without savepoints, which have a cost per
 * write; when one of its writes throws, the whole transaction is rolled back and the batch runs
 * again with each write in its own savepoint. A write may therefore run twice: it must only touch
 * the database (and counters whose gaps do not matter).
 */

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

interface Pending {
  write: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export interface BatchHooks {
  begin(): void;
  end(): void;
}

/** A write of a batch run without savepoints threw: the batch runs again, one savepoint per write (which meets that error again). */
class WriteFailed extends Error {}

export class WriteBatcher {
  private pending: Pending[] = [];
  private scheduled = false;
  /** Inside the batch's transaction, better-sqlite3 runs a transaction function as a savepoint. */
  private readonly savepoint: (write: () => unknown) => unknown;
  /** Every write, no savepoints; a write that throws rolls back the whole transaction. */
  private readonly commitAll: Database.Transaction<(batch: Pending[], outcomes: Outcome[]) => void>;
  /** Every write in its own savepoint: one that throws is undone alone. */
  private readonly commitEach: Database.Transaction<(batch: Pending[], outcomes: Outcome[]) => void>;

  constructor(
    private readonly db: Database.Database,
    /** Turns what SQLite throws into what callers should see (e.g. STORE_UNAVAILABLE). */
    private readonly translate: (error: unknown) => unknown,
    /** Runs inside each batch's transaction: `begin` before its writes, `end` after them, before the commit. */
    around: BatchHooks = { begin() {}, end() {} },
  ) {
    this.savepoint = db.transaction((write: () => unknown) => write());
    this.commitAll = db.transaction((batch: Pending[], outcomes: Outcome[]) => {
      around.begin();
      for (const item of batch) {
        try {
          outcomes.push({ ok: true, value: item.write() });
        } catch {
          throw new WriteFailed();
        }
      }
      around.end();
    });
    this.commitEach = db.transaction((batch: Pending[], outcomes: Outcome[]) => {
      around.begin();
      for (const item of batch) {
        try {
          outcomes.push({ ok: true, value: this.savepoint(item.write) });
        } catch (error) {
          outcomes.push({ ok: false, error });
        }
      }
      around.end();
    });
  }

  run<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ write, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Runs what is pending now; called on its own at the end of the turn. */
  flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    let outcomes: Outcome[] = [];
    try {
      try {
        this.commitAll.immediate(batch, outcomes);
      } catch (error) {
        if (!(error instanceof WriteFailed)) throw error;
        outcomes = [];
        this.commitEach.immediate(batch, outcomes);
      }
    } catch (error) {
      const translated = this.translate(error);
      for (const item of batch) item.reject(translated);
      return;
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) item.resolve(outcome.value);
      else item.reject(this.translate(outcome.error));
    });
  }
}
