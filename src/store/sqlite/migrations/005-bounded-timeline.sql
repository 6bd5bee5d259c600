-- 005: each task counts its timeline entries, so the store can keep a timeline within its bound.
--
-- The store appends entries and, when a timeline grows past core/timeline.ts TIMELINE.maxEntries,
-- cuts it to its first entries, one `Omitted` entry and its latest ones; timeline_length tells it
-- when, without counting rows at every append.
-- Timelines stored before keep their length until their next entry cuts them.

ALTER TABLE tasks ADD COLUMN timeline_length INTEGER NOT NULL DEFAULT 0;

UPDATE tasks SET timeline_length = counted.n
  FROM (SELECT task_rid, COUNT(*) AS n FROM timeline GROUP BY task_rid) AS counted
  WHERE tasks.rid = counted.task_rid;
