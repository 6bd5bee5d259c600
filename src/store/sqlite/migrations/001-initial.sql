-- 001: projects, tasks with their due index, timelines, and a small key/value table.
--
-- tasks.rid is the rowid: rows are laid out in insertion order, which is close to due order for
-- most tasks, so claims touch neighbouring pages. due_at is set only while a task is RUNNING (its
-- execution time, or the end of the lease of the attempt in flight); the partial index holds only
-- those rows, so the scheduler's work grows with what is scheduled, not with history.

CREATE TABLE projects (
  id           TEXT PRIMARY KEY,
  email        TEXT NOT NULL UNIQUE,
  token_hash   BLOB NOT NULL,
  created_at   INTEGER NOT NULL,
  role         TEXT NOT NULL,
  active_tasks INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE tasks (
  rid              INTEGER PRIMARY KEY,
  id               TEXT NOT NULL UNIQUE,
  project_id       TEXT NOT NULL,
  state            TEXT NOT NULL,
  status_code      INTEGER NOT NULL,
  start_at         INTEGER NOT NULL,
  exec_at          INTEGER NOT NULL,
  end_at           INTEGER NOT NULL,
  currently_retry  INTEGER NOT NULL,
  currently_repeat INTEGER NOT NULL,
  retry_count      INTEGER NOT NULL,
  repeat_count     INTEGER NOT NULL,
  attempts         INTEGER NOT NULL,
  paused_left      INTEGER NOT NULL,
  config           TEXT NOT NULL,
  request          TEXT NOT NULL,
  lease_token      TEXT,
  lease_until      INTEGER,
  due_at           INTEGER,
  finished_at      INTEGER,
  version          INTEGER NOT NULL
) STRICT;

CREATE INDEX tasks_due ON tasks (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX tasks_finished ON tasks (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX tasks_leased ON tasks (lease_token) WHERE lease_token IS NOT NULL;

CREATE TABLE timeline (
  seq         INTEGER PRIMARY KEY,
  task_rid    INTEGER NOT NULL,
  label       TEXT NOT NULL,
  description TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  metadata    TEXT
) STRICT;

CREATE INDEX timeline_task ON timeline (task_rid, seq);

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
