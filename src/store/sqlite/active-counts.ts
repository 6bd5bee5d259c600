import { StoreInvariantError } from '../task-store.js';

/**
 * Each project's count of active tasks (RUNNING or PAUSED), as one write batch sees it. Every
 * subscribe checks and raises its project's count; as one UPDATE per task that was a b-tree search
 * and a row rewrite each. Here the batch reads a count once, keeps
 * the changes in memory, and writes each project's net change once, just before its commit.
 *
 * Only valid inside one write batch's transaction: `begin` at its start (again if the batch is run
 * a second time, with savepoints), `end` before its commit. A caller changes a count only after its
 * own statements succeeded, so a write undone by its savepoint leaves no change here either.
 */
export class ActiveCounts {
  /** The stored count when first read in this batch (null: not read yet), and the batch's change. */
  private readonly touched = new Map<string, { stored: number | null; change: number }>();

  constructor(
    /** The stored count, or undefined when the project does not exist. */
    private readonly read: (projectId: string) => number | undefined,
    private readonly write: (projectId: string, change: number) => void,
  ) {}

  begin(): void {
    this.touched.clear();
  }

  /** Whether the project may hold one more active task; throws when the project does not exist. */
  hasRoom(projectId: string, limit: number): boolean {
    const entry = this.entry(projectId);
    if (entry.stored === null) {
      const stored = this.read(projectId);
      if (stored === undefined) throw new StoreInvariantError('NO_PROJECT', `Project ${projectId} does not exist`);
      entry.stored = stored;
    }
    return entry.stored + entry.change < limit;
  }

  change(projectId: string, by: number): void {
    if (by !== 0) this.entry(projectId).change += by;
  }

  /** Writes the batch's changes; the transaction then commits them with everything else. */
  end(): void {
    for (const [projectId, entry] of this.touched) if (entry.change !== 0) this.write(projectId, entry.change);
    this.touched.clear();
  }

  private entry(projectId: string): { stored: number | null; change: number } {
    let entry = this.touched.get(projectId);
    if (!entry) {
      entry = { stored: null, change: 0 };
      this.touched.set(projectId, entry);
    }
    return entry;
  }
}
