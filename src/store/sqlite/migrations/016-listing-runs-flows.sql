-- 016: indexes for listings filtered on a schedule (its runs) or a flow key, newest first, by id.
--
-- As 009's: a page reads one range of one of them from its cursor on. Both are partial: a task
-- subscribed directly, or without a flow key, is in neither, so it costs them nothing. schedule_id
-- and flow_key are written once, at insert, so claims and outcomes leave them alone; a delete (the
-- API's, the retention sweep's) removes the task's entries with its row.
CREATE INDEX tasks_project_schedule ON tasks (project_id, schedule_id, id) WHERE schedule_id <> '';
CREATE INDEX tasks_project_flow ON tasks (project_id, flow_key, id) WHERE flow_key <> '';
