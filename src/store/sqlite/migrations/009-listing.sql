-- 009: indexes for listings (GET /v1beta/queues): a project's tasks newest first, by id.
--
-- A page reads one range of one of these (or of task_tags, 008) from its cursor on: the project's
-- tasks; those in one state (a listing of several states merges one range per state); those for
-- one target host (by its digest). project_id and host_tag never change and state changes a few
-- times in a task's life, so claims and outcomes that keep the state leave them alone.

CREATE INDEX tasks_project_list ON tasks (project_id, id);
CREATE INDEX tasks_project_state ON tasks (project_id, state, id);
CREATE INDEX tasks_project_host ON tasks (project_id, host_tag, id);
