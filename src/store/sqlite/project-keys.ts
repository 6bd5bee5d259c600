import type Database from 'better-sqlite3';
import type { IdempotencyClaim, IdempotencyRecord, StoredSigningKeys } from '../task-store.js';

/*
 * The SQLite side of a project's signing keys (columns of `projects`) and of the Idempotency-Key
 * records of subscribes (`idempotency_keys`), both from migration 012. SqliteStore calls the
 * idempotency statements inside the write that inserts the task, so key and task commit together.
 */

interface SigningRow {
  signing_key: Buffer | null;
  signing_previous: Buffer | null;
  signing_previous_until: number;
}

/** Statements on the signing columns and the `idempotency_keys` table. */
export class ProjectKeyTables {
  private readonly stmt;

  constructor(db: Database.Database) {
    this.stmt = {
      readSigning: db.prepare<[string], SigningRow>(
        'SELECT signing_key, signing_previous, signing_previous_until FROM projects WHERE id = ?',
      ),
      writeSigning: db.prepare<[Uint8Array, Uint8Array | null, number, string]>(
        'UPDATE projects SET signing_key = ?, signing_previous = ?, signing_previous_until = ? WHERE id = ?',
      ),
      findKey: db.prepare<[string, string], { task_id: string; body_digest: string; expires_at: number }>(
        'SELECT task_id, body_digest, expires_at FROM idempotency_keys WHERE project_id = ? AND key_digest = ?',
      ),
      // An expired record the sweep has not reached yet is replaced.
      putKey: db.prepare<[string, string, string, string, number]>(
        'INSERT OR REPLACE INTO idempotency_keys (project_id, key_digest, body_digest, task_id, expires_at) VALUES (?, ?, ?, ?, ?)',
      ),
      sweepKeys: db.prepare<[number, number]>(
        `DELETE FROM idempotency_keys WHERE (project_id, key_digest) IN
           (SELECT project_id, key_digest FROM idempotency_keys WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
      ),
    };
  }

  readSigning(projectId: string): StoredSigningKeys | null {
    const row = this.stmt.readSigning.get(projectId);
    if (!row?.signing_key) return null;
    return { current: row.signing_key, previous: row.signing_previous, previousUntil: row.signing_previous_until };
  }

  /** Answers whether the project exists. */
  writeSigning(projectId: string, keys: StoredSigningKeys): boolean {
    return this.stmt.writeSigning.run(keys.current, keys.previous, keys.previousUntil, projectId).changes > 0;
  }

  /** The live record of the claim's key, or null when there is none (or it expired). */
  findKey(projectId: string, claim: IdempotencyClaim): IdempotencyRecord | null {
    const row = this.stmt.findKey.get(projectId, claim.keyDigest);
    if (!row || row.expires_at <= claim.now) return null;
    return { taskId: row.task_id, bodyDigest: row.body_digest };
  }

  putKey(projectId: string, taskId: string, claim: IdempotencyClaim): void {
    this.stmt.putKey.run(projectId, claim.keyDigest, claim.bodyDigest, taskId, claim.now + claim.windowMs);
  }

  /** Deletes up to `budget` records expired at `now`; answers how many. */
  sweepKeys(now: number, budget: number): number {
    return this.stmt.sweepKeys.run(now, budget).changes;
  }
}
