-- 002: fewer b-trees to write per task, for dispatch throughput.
--
-- tasks_leased indexed the few leased rows for releaseAllLeases, which runs once, at start; every
-- claim and every outcome paid to keep it. That one statement now scans the table instead.
--
-- The timeline becomes a WITHOUT ROWID table keyed by (task_rid, seq): an entry is written to one
-- b-tree instead of a table and an index. seq is given by the store (one writer per database).

DROP INDEX tasks_leased;

CREATE TABLE timeline_v2 (
  task_rid    INTEGER NOT NULL,
  seq         INTEGER NOT NULL,
  label       TEXT NOT NULL,
  description TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  metadata    TEXT,
  PRIMARY KEY (task_rid, seq)
) STRICT, WITHOUT ROWID;

INSERT INTO timeline_v2 (task_rid, seq, label, description, created_at, metadata)
  SELECT task_rid, seq, label, description, created_at, metadata FROM timeline;

DROP TABLE timeline;
ALTER TABLE timeline_v2 RENAME TO timeline;
