-- 012: signing secrets of projects, and the Idempotency-Key records of subscribes.
--
-- A project's signing keys are sealed (RequestCipher.sealBytes, bound to the project id) like the
-- requests: `signing_key` the current one, `signing_previous` the one before the last rotation,
-- used beside it until `signing_previous_until` (ms). Projects registered before this have none
-- until their first rotation (POST /v1beta/signing-secret).
ALTER TABLE projects ADD COLUMN signing_key BLOB;
ALTER TABLE projects ADD COLUMN signing_previous BLOB;
ALTER TABLE projects ADD COLUMN signing_previous_until INTEGER NOT NULL DEFAULT 0;

-- One row per Idempotency-Key a project used within the window: keyed digests only (the key and
-- the body never stored in the clear), the task the first subscribe made, and when the record
-- ends. Written in the same transaction as the task; the retention loop deletes expired rows.
CREATE TABLE idempotency_keys (
  project_id  TEXT NOT NULL,
  key_digest  TEXT NOT NULL,
  body_digest TEXT NOT NULL,
  task_id     TEXT NOT NULL,
  expires_at  INTEGER NOT NULL,
  PRIMARY KEY (project_id, key_digest)
) STRICT, WITHOUT ROWID;
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
