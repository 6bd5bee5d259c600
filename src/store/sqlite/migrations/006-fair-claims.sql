-- 006: fair claims.
--
-- host_tag: a keyed digest of the task's target host (core/task.ts hostTag), '' for tasks stored
-- before it. parked: the group (`p:<project id>` or `h:<host tag>`) a due task waits for while the
-- dispatcher holds that group's share of its slots; due_at is NULL meanwhile, so claims do not scan
-- it again. A claim with room in the group puts it back; any write of the task clears it.

ALTER TABLE tasks ADD COLUMN host_tag TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN parked TEXT;
CREATE INDEX tasks_parked ON tasks (parked, exec_at) WHERE parked IS NOT NULL;
