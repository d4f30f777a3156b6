-- CSV imports of contacts (the README's "Importing contacts"). The upload is kept in the database in pieces of
-- about 1 MiB as it arrives, so any process sharing the database can run the import as a job, and a job that
-- resumes after a crash reads the same bytes again.

CREATE TABLE contact_imports (
  id uuid PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- no foreign key: deleting the audience must not delete the record of the import; the job checks it exists
  audience_id uuid,
  -- receiving: the upload is still arriving; queued: waiting for a worker
  status text NOT NULL DEFAULT 'receiving' CHECK (status IN ('receiving', 'queued', 'running', 'completed', 'failed')),
  bytes bigint NOT NULL DEFAULT 0,
  rows_read integer NOT NULL DEFAULT 0,
  rows_created integer NOT NULL DEFAULT 0,
  rows_updated integer NOT NULL DEFAULT 0,
  rows_skipped integer NOT NULL DEFAULT 0,
  rows_failed integer NOT NULL DEFAULT 0,
  -- the file line of the last row whose outcome is counted above: a resumed job counts no row twice
  checkpoint_line integer NOT NULL DEFAULT 0,
  -- the first failed rows ({row, column, reason}), capped; rows_failed counts them all
  errors jsonb NOT NULL DEFAULT '[]',
  -- why the whole import failed (no email column, an unreadable file)
  error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz
);
-- the per-workspace limit of imports in progress
CREATE INDEX contact_imports_workspace_status_idx ON contact_imports (workspace_id, status);

CREATE TABLE contact_import_chunks (
  import_id uuid NOT NULL REFERENCES contact_imports (id) ON DELETE CASCADE,
  seq integer NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY (import_id, seq)
);
