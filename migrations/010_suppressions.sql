-- The suppression list (README, "Unsubscribe and the suppression list"): addresses a workspace must not mail, per
-- tier scope. An unsubscribe suppresses the `bulk` tier only (transactional mail still reaches the person); hard
-- bounces and complaints (a later change) suppress `all` tiers. An address is found without regard to case
-- (email_key, as contacts.email_key), while `email` keeps the spelling it was given. One row per address and scope:
-- a repeated unsubscribe finds the row there and changes nothing.

CREATE TABLE suppressions (
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  email_key text NOT NULL,
  email text NOT NULL,
  scope text NOT NULL CHECK (scope IN ('bulk', 'all')),
  reason text NOT NULL CHECK (reason IN ('unsubscribe', 'hard_bounce', 'complaint', 'manual')),
  -- the email whose link, bounce or complaint added the address; kept when that email is deleted
  source_email_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, email_key, scope)
);
-- the list in the order an API shows it (newest first)
CREATE INDEX suppressions_workspace_created_idx ON suppressions (workspace_id, created_at DESC);

-- A recipient that was not attempted because its address is suppressed.
ALTER TABLE message_recipients DROP CONSTRAINT message_recipients_status_check;
ALTER TABLE message_recipients ADD CONSTRAINT message_recipients_status_check
  CHECK (status IN ('pending', 'sent', 'delivered', 'deferred', 'bounced', 'failed', 'suppressed'));

-- GET /api/v1/emails?status=suppressed finds an email by its recipients too (migration 005's index, one word more).
DROP INDEX message_recipients_unsent_idx;
CREATE INDEX message_recipients_unsent_idx ON message_recipients (status, message_id) WHERE status IN ('deferred', 'bounced', 'failed', 'suppressed');

-- The audience an email was sent to (campaigns will set it): its unsubscribe link then leaves that audience
-- instead of suppressing the address. NULL for every email the send API accepts today.
ALTER TABLE messages ADD COLUMN audience_id uuid REFERENCES audiences (id) ON DELETE SET NULL;
