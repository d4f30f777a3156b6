-- Core platform: workspaces, API keys, the messages table that is also the delivery queue,
-- per-recipient outcomes, the event timeline, captured mail, idempotency records and generic jobs.

CREATE TABLE workspaces (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  plan text NOT NULL CHECK (plan IN ('FREE', 'LAUNCH', 'CUSTOM', 'ENTERPRISE')),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id uuid PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('regular', 'admin')),
  name text NOT NULL,
  key_id text NOT NULL UNIQUE,
  secret_hash text NOT NULL UNIQUE,
  scopes text[] NOT NULL DEFAULT '{}',
  domain_id uuid,
  is_active boolean NOT NULL DEFAULT true,
  expires_at timestamptz,
  last_used_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id, kind);

CREATE TABLE messages (
  id text PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  api_key_id uuid,
  tier text NOT NULL CHECK (tier IN ('instant', 'high', 'async', 'bulk')),
  -- 0 = instant … 3 = bulk; the claim query orders by it so a lower tier never delays a higher one
  priority smallint NOT NULL,
  status text NOT NULL,
  from_email text NOT NULL,
  from_name text,
  reply_to jsonb NOT NULL DEFAULT '[]',
  subject text NOT NULL,
  html text,
  text_body text,
  headers jsonb NOT NULL DEFAULT '{}',
  attachments jsonb NOT NULL DEFAULT '[]',
  metadata jsonb NOT NULL DEFAULT '{}',
  tags jsonb NOT NULL DEFAULT '[]',
  message_id_header text NOT NULL,
  recipients_count integer NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL,
  -- when the message may next be claimed; NULL once it reached a final state.
  -- A claim pushes it forward by the lease, so a crashed worker's message comes back by itself.
  next_attempt_at timestamptz,
  locked_by text,
  transport text,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  delivered_at timestamptz,
  failed_at timestamptz
);
CREATE INDEX messages_claim_idx ON messages (priority, next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX messages_workspace_created_idx ON messages (workspace_id, created_at DESC, id DESC);
CREATE INDEX messages_workspace_status_idx ON messages (workspace_id, status, created_at DESC);

CREATE TABLE message_recipients (
  message_id text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  position smallint NOT NULL,
  kind text NOT NULL CHECK (kind IN ('to', 'cc', 'bcc')),
  email text NOT NULL,
  name text,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'deferred', 'failed')),
  smtp_code integer,
  smtp_response text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (message_id, position)
);
CREATE INDEX message_recipients_email_idx ON message_recipients (email);

CREATE TABLE message_events (
  id bigserial PRIMARY KEY,
  message_id text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  type text NOT NULL,
  recipient text,
  attempt integer,
  smtp_host text,
  smtp_code integer,
  smtp_response text,
  detail jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_events_message_idx ON message_events (message_id, id);

CREATE TABLE captured_messages (
  id uuid PRIMARY KEY,
  message_id text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  envelope_from text NOT NULL,
  envelope_to text[] NOT NULL,
  subject text NOT NULL,
  size integer NOT NULL,
  raw bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX captured_messages_workspace_idx ON captured_messages (workspace_id, created_at DESC, id DESC);

CREATE TABLE idempotency_keys (
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  key text NOT NULL,
  request_hash text NOT NULL,
  message_id text NOT NULL,
  response jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, key)
);

-- Side work (webhook calls, DNS re-checks, timers) is claimed exactly like messages.
CREATE TABLE jobs (
  id uuid PRIMARY KEY,
  queue text NOT NULL,
  dedupe_key text,
  payload jsonb NOT NULL DEFAULT '{}',
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 5,
  next_attempt_at timestamptz,
  locked_by text,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_claim_idx ON jobs (queue, next_attempt_at) WHERE next_attempt_at IS NOT NULL;
-- a deterministic key makes racing producers collide instead of duplicating work that is still to be done
CREATE UNIQUE INDEX jobs_dedupe_idx ON jobs (dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('pending', 'running');
