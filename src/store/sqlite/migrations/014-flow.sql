-- 014: flow control (core/flow.ts).
--
-- flow_key: the task's flow key, '' when none. A due task of a key with no room waits parked
-- (006's `parked` column, the group `f:<project id>:<key>`, due_at NULL), so claims do not read it
-- again until the key has room.
-- Two partial indexes hold keyed tasks only, so a task without a key costs them nothing: the
-- leases of a key (its tasks in flight, counted against its parallelism, a lease that ended no
-- longer counting) and its active tasks in subscription order (the head of an ordered key).
ALTER TABLE tasks ADD COLUMN flow_key TEXT NOT NULL DEFAULT '';
CREATE INDEX tasks_flow_leased ON tasks (project_id, flow_key, lease_until) WHERE flow_key <> '' AND lease_token IS NOT NULL;
CREATE INDEX tasks_flow_active ON tasks (project_id, flow_key, rid) WHERE flow_key <> '' AND state IN ('RUNNING', 'PAUSED');

-- A key's limits, per project (0: no limit of that kind). pace: its rate's pace (core/flow.ts, the
-- theoretical time of its next start). wake_at: when a claim should look at the key's waiting tasks
-- (core/flow.ts flowWakeAt); NULL when none wait or while paused.
CREATE TABLE flows (
  project_id     TEXT NOT NULL,
  flow_key       TEXT NOT NULL,
  rate_limit     INTEGER NOT NULL DEFAULT 0,
  rate_period_ms INTEGER NOT NULL DEFAULT 0,
  parallelism    INTEGER NOT NULL DEFAULT 0,
  ordered        INTEGER NOT NULL DEFAULT 0,
  paused         INTEGER NOT NULL DEFAULT 0,
  pace           REAL NOT NULL DEFAULT 0,
  wake_at        INTEGER,
  PRIMARY KEY (project_id, flow_key)
) STRICT, WITHOUT ROWID;
CREATE INDEX flows_wake ON flows (wake_at) WHERE wake_at IS NOT NULL;

-- The starts of a key with a rate, within its window (older ones are deleted as claims meet them).
CREATE TABLE flow_starts (
  project_id TEXT NOT NULL,
  flow_key   TEXT NOT NULL,
  at         INTEGER NOT NULL
) STRICT;
CREATE INDEX flow_starts_key ON flow_starts (project_id, flow_key, at);
