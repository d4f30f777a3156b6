-- Templates (versioned), scheduled sending, monthly usage counters and server-wide settings.

CREATE TABLE templates (
  id uuid PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  name text NOT NULL,
  description text,
  category text,
  current_version integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
CREATE INDEX templates_workspace_idx ON templates (workspace_id, created_at DESC) WHERE deleted_at IS NULL;

-- A version is never changed once written: an email keeps the version it was rendered from.
CREATE TABLE template_versions (
  template_id uuid NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
  version integer NOT NULL,
  subject text NOT NULL,
  html text NOT NULL,
  text_body text,
  source_format text NOT NULL CHECK (source_format IN ('html', 'mjml', 'blocks')),
  source text,
  required_variables text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (template_id, version)
);

ALTER TABLE messages ADD COLUMN template_id uuid;
ALTER TABLE messages ADD COLUMN template_version integer;
ALTER TABLE messages ADD COLUMN scheduled_at timestamptz;
ALTER TABLE messages ADD COLUMN timezone text;
CREATE INDEX messages_scheduled_idx ON messages (workspace_id, scheduled_at, id) WHERE status = 'scheduled';

-- The quota device: a conditional increment makes racing sends at the edge of the quota exact.
CREATE TABLE usage_counters (
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  period text NOT NULL,
  emails integer NOT NULL DEFAULT 0,
  PRIMARY KEY (workspace_id, period)
);

CREATE TABLE server_settings (
  key text PRIMARY KEY,
  value text NOT NULL
);
