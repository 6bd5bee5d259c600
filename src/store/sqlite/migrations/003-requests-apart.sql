-- 003: the sealed request moves out of the tasks row, into a table of its own.
--
-- The request is written once, at subscribe, and read once per attempt; the tasks row is
-- rewritten at every claim and every outcome. Kept in the row, its ~1.4 KB made each of those
-- rewrites dirty a page per three tasks (and put that page in the WAL, and the WAL back into the
-- database at checkpoint); without it a page holds about fifteen tasks. Measured with
-- bench/micro/store-loop.ts: claim + record 41 µs per task with a 1,000-character request in the
-- row, 27 µs with a 10-character one.

CREATE TABLE requests (
  rid    INTEGER PRIMARY KEY,
  sealed TEXT NOT NULL
) STRICT;

INSERT INTO requests (rid, sealed) SELECT rid, request FROM tasks;

ALTER TABLE tasks DROP COLUMN request;
