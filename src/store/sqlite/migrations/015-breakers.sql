-- 015: circuit breakers (core/circuit.ts).
--
-- A project that turned breakers on has a policy row; without one its tasks are never held. A
-- circuit has a row only while it is not closed and clean (failures counted, open or half-open):
-- a success deletes it, so a healthy target costs no row. `version` makes writes compare-and-set.
-- `name` is the host's name sealed (RequestCipher.sealBytes, bound to the circuit), for the API.
CREATE TABLE breaker_policies (
  project_id        TEXT PRIMARY KEY,
  failure_threshold INTEGER NOT NULL,
  open_ms           INTEGER NOT NULL,
  max_open_ms       INTEGER NOT NULL,
  callback_url      TEXT
) STRICT, WITHOUT ROWID;

CREATE TABLE circuits (
  project_id    TEXT NOT NULL,
  kind          TEXT NOT NULL,
  key           TEXT NOT NULL,
  version       INTEGER NOT NULL,
  state         TEXT NOT NULL,
  failures      INTEGER NOT NULL,
  open_ms       INTEGER NOT NULL,
  opened_at     INTEGER NOT NULL,
  retry_at      INTEGER NOT NULL,
  probe_task_id TEXT NOT NULL,
  opens         INTEGER NOT NULL,
  name          BLOB,
  PRIMARY KEY (project_id, kind, key)
) STRICT, WITHOUT ROWID;
