-- 007: the inbox and the activity counts.
--
-- inbox: the last requests each project's inbox received (the API keeps 100), newest by id (ids
-- sort by arrival); `sealed` is the request sealed with the server's key, like a task's.
-- activity: attempt outcomes per project per minute (`minute` its start, ms), added to as servers
-- flush their counts; rows older than two hours are deleted as new minutes begin.

CREATE TABLE inbox (
  project_id TEXT NOT NULL,
  id TEXT NOT NULL,
  sealed BLOB NOT NULL,
  PRIMARY KEY (project_id, id)
) WITHOUT ROWID;

CREATE TABLE activity (
  project_id TEXT NOT NULL,
  minute INTEGER NOT NULL,
  delivered INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (project_id, minute)
) WITHOUT ROWID;
CREATE INDEX activity_minute ON activity (minute);
