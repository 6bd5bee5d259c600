import type Database from 'better-sqlite3';
import type { BreakerPolicy, Circuit, CircuitKind, CircuitState, ProjectBreakers, StoredCircuit } from '../../core/circuit.js';

/*
 * The SQLite side of circuit breakers (migration 015): a policy row per project that turned them
 * on, a row per circuit that is not closed and clean. SqliteStore runs the writes in its write
 * batches and the reads as they come.
 */

interface PolicyRow {
  failure_threshold: number;
  open_ms: number;
  max_open_ms: number;
  callback_url: string | null;
}

interface CircuitRow {
  kind: string;
  key: string;
  version: number;
  state: string;
  failures: number;
  open_ms: number;
  opened_at: number;
  retry_at: number;
  probe_task_id: string;
  opens: number;
  name: Buffer | null;
}

type CircuitValues = [number, string, number, number, number, number, string, number, Uint8Array | null];

const values = (c: Circuit, version: number): CircuitValues => [
  version,
  c.state,
  c.failures,
  c.openMs,
  c.openedAt,
  c.retryAt,
  c.probeTaskId,
  c.opens,
  c.name,
];

/** Statements on `breaker_policies` and `circuits`; each write is one call inside the caller's transaction. */
export class BreakerTables {
  private readonly stmt;

  constructor(db: Database.Database) {
    const columns = 'version, state, failures, open_ms, opened_at, retry_at, probe_task_id, opens, name';
    this.stmt = {
      readPolicy: db.prepare<[string], PolicyRow>(
        'SELECT failure_threshold, open_ms, max_open_ms, callback_url FROM breaker_policies WHERE project_id = ?',
      ),
      readCircuits: db.prepare<[string], CircuitRow>(`SELECT kind, key, ${columns} FROM circuits WHERE project_id = ? ORDER BY kind, key`),
      putPolicy: db.prepare<[string, number, number, number, string | null]>(
        'INSERT OR REPLACE INTO breaker_policies (project_id, failure_threshold, open_ms, max_open_ms, callback_url) VALUES (?, ?, ?, ?, ?)',
      ),
      deletePolicy: db.prepare<[string]>('DELETE FROM breaker_policies WHERE project_id = ?'),
      deleteCircuits: db.prepare<[string]>('DELETE FROM circuits WHERE project_id = ?'),
      insertCircuit: db.prepare<[string, string, string, ...CircuitValues]>(
        `INSERT OR IGNORE INTO circuits (project_id, kind, key, ${columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      updateCircuit: db.prepare<[...CircuitValues, string, string, string, number]>(
        `UPDATE circuits SET version = ?, state = ?, failures = ?, open_ms = ?, opened_at = ?, retry_at = ?, probe_task_id = ?, opens = ?, name = ?
         WHERE project_id = ? AND kind = ? AND key = ? AND version = ?`,
      ),
      deleteCircuit: db.prepare<[string, string, string, number]>(
        'DELETE FROM circuits WHERE project_id = ? AND kind = ? AND key = ? AND version = ?',
      ),
      exists: db.prepare<[string, string, string], { version: number }>(
        'SELECT version FROM circuits WHERE project_id = ? AND kind = ? AND key = ?',
      ),
    };
  }

  read(projectId: string): ProjectBreakers {
    const row = this.stmt.readPolicy.get(projectId);
    const policy: BreakerPolicy | null = row
      ? { failureThreshold: row.failure_threshold, openMs: row.open_ms, maxOpenMs: row.max_open_ms, callbackUrl: row.callback_url }
      : null;
    const circuits = this.stmt.readCircuits.all(projectId).map((r): StoredCircuit => ({
      kind: r.kind as CircuitKind,
      key: r.key,
      version: r.version,
      state: r.state as CircuitState,
      failures: r.failures,
      openMs: r.open_ms,
      openedAt: r.opened_at,
      retryAt: r.retry_at,
      probeTaskId: r.probe_task_id,
      opens: r.opens,
      name: r.name,
    }));
    return { policy, circuits };
  }

  writePolicy(projectId: string, policy: BreakerPolicy | null): void {
    if (policy) {
      this.stmt.putPolicy.run(projectId, policy.failureThreshold, policy.openMs, policy.maxOpenMs, policy.callbackUrl);
      return;
    }
    this.stmt.deletePolicy.run(projectId);
    this.stmt.deleteCircuits.run(projectId);
  }

  writeCircuit(projectId: string, prev: StoredCircuit | null, next: Circuit | null): boolean {
    const { kind, key } = (next ?? prev)!;
    if (prev === null) {
      if (next === null) return this.stmt.exists.get(projectId, kind, key) === undefined;
      return this.stmt.insertCircuit.run(projectId, kind, key, ...values(next, 1)).changes > 0;
    }
    if (next === null) return this.stmt.deleteCircuit.run(projectId, kind, key, prev.version).changes > 0;
    return this.stmt.updateCircuit.run(...values(next, prev.version + 1), projectId, kind, key, prev.version).changes > 0;
  }
}
