-- 011: the retry policy's time cap and the attempt log.
--
-- retry_since: while a task retries, when its run's first failure was recorded (core/task.ts), so
-- a retry policy's maxRetryDurationMs counts from it; 0 otherwise.
-- attempts: the latest attempts of each task (core/limits.ts ATTEMPT_LOG.maxEntries), keyed by the
-- task's rid and the attempt's number, written in the same statement batch as the outcome that
-- records it and cut to its bound there; `excerpt` is the first bytes of the answer, sealed
-- (RequestCipher.sealBytes, the task id and number as AAD). Deleted with the task.

ALTER TABLE tasks ADD COLUMN retry_since INTEGER NOT NULL DEFAULT 0;

CREATE TABLE attempts (
  task_rid INTEGER NOT NULL,
  number INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  status_code INTEGER NOT NULL,
  error_class TEXT,
  excerpt BLOB,
  PRIMARY KEY (task_rid, number)
) WITHOUT ROWID;
