-- 013: schedules (core/schedule.ts), and the schedule a task is a run of.
--
-- tasks.schedule_id: the schedule whose run made the task ('' for a task subscribed directly);
-- written once, at insert.
-- schedules: one row per schedule. The store reads only what it indexes or conditions on: the
-- project (listings, by id), `version` (every write's compare-and-set; a run is made only by the
-- write that still finds the version it read, so two writers cannot both make it), and `due_at`,
-- the next run's instant while the schedule is ACTIVE (NULL otherwise), which the scheduler reads
-- earliest first. `request` is the sealed request (bound to the schedule id); `data` the rest of
-- the schedule as JSON (store/schedule-codec.ts), opaque to SQL.
ALTER TABLE tasks ADD COLUMN schedule_id TEXT NOT NULL DEFAULT '';

CREATE TABLE schedules (
  id         TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  version    INTEGER NOT NULL,
  due_at     INTEGER,
  request    BLOB NOT NULL,
  data       TEXT NOT NULL
) STRICT;
CREATE INDEX schedules_project ON schedules (project_id, id);
CREATE INDEX schedules_due ON schedules (due_at) WHERE due_at IS NOT NULL;
