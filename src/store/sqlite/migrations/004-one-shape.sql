-- 004: one name per field, and the sealed request as bytes.
--
-- Column names become the snake_case of the task's field names (core/task.ts TASK_FIELDS), and
-- the project's columns those of its type. The sealed request was base64url text; it is stored as
-- the bytes it encodes (a quarter smaller), in a column named after its field. base64url_blob is
-- registered by migrate.ts for this. Timelines keep their stored `Subscribe` entries: new tasks
-- store none (it is derived from the task), and reading tells the two apart.

ALTER TABLE tasks RENAME COLUMN currently_retry TO retrying;
ALTER TABLE tasks RENAME COLUMN currently_repeat TO repeating;
ALTER TABLE projects RENAME COLUMN role TO "as";
ALTER TABLE projects RENAME COLUMN active_tasks TO active;

CREATE TABLE requests_v2 (
  rid     INTEGER PRIMARY KEY,
  request BLOB NOT NULL
) STRICT;

INSERT INTO requests_v2 (rid, request) SELECT rid, base64url_blob(sealed) FROM requests;

DROP TABLE requests;
ALTER TABLE requests_v2 RENAME TO requests;
