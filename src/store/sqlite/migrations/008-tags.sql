-- 008: a task's tags, and an index of them for listings.
--
-- tasks.tags holds the task's tags as a JSON array ('' for none); a tag never changes after the
-- insert. task_tags holds one row per (project, tag, task), in id order, so a listing filtered on a
-- tag reads its page from one range of it; `rid` takes it to the task row without a second lookup.
-- The triggers keep it in step with every insert and delete (the API's, the retention sweep's); an
-- UPDATE of a task never touches it, so claims and outcomes pay nothing for it.

ALTER TABLE tasks ADD COLUMN tags TEXT NOT NULL DEFAULT '';

CREATE TABLE task_tags (
  project_id TEXT NOT NULL,
  tag        TEXT NOT NULL,
  id         TEXT NOT NULL,
  rid        INTEGER NOT NULL,
  PRIMARY KEY (project_id, tag, id)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER tasks_tags_insert AFTER INSERT ON tasks WHEN new.tags <> '' BEGIN
  INSERT INTO task_tags (project_id, tag, id, rid) SELECT new.project_id, value, new.id, new.rid FROM json_each(new.tags);
END;

CREATE TRIGGER tasks_tags_delete AFTER DELETE ON tasks WHEN old.tags <> '' BEGIN
  DELETE FROM task_tags WHERE project_id = old.project_id AND tag IN (SELECT value FROM json_each(old.tags)) AND id = old.id;
END;
