-- Bounces (README, "Bounces and the suppression list"): the class a refused recipient's answer put it in
-- (platform/mail/bounce-class.ts) and the answer itself, set when the recipient becomes `bounced` or `failed`,
-- by the delivery worker or by a later report (an asynchronous DSN).
ALTER TABLE message_recipients ADD COLUMN bounce_type text CHECK (bounce_type IN ('hard', 'soft', 'block', 'undetermined'));
ALTER TABLE message_recipients ADD COLUMN bounce_reason text;

-- Soft bounces of an address in a row, per workspace: the address is suppressed when the count reaches the
-- threshold (modules/suppressions/store.ts, SOFT_BOUNCE_LIMIT); a delivery to it removes the row. Only addresses
-- that soft-bounced have a row, so the table stays small and a delivery costs one primary-key probe.
CREATE TABLE suppression_soft_counts (
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  email_key text NOT NULL,
  count integer NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, email_key)
);

-- Managing the suppression list is a privilege of its own (scope `suppressions:manage`). Admin keys that held
-- every scope before keep doing everything, as migration 004 did for its scopes; narrower keys get nothing.
UPDATE api_keys
   SET scopes = scopes || ARRAY['suppressions:manage']
 WHERE kind = 'admin'
   AND scopes @> ARRAY['contacts:read', 'contacts:write', 'audiences:manage', 'automations:read', 'automations:write',
                       'automations:trigger', 'domains:manage', 'api-keys:create', 'emails:read', 'templates:manage']
   AND NOT scopes @> ARRAY['suppressions:manage'];

-- Soft bounces that reached the threshold suppress the address (scope `all`) with a reason of their own, and block
-- its contact with that reason.
ALTER TABLE suppressions DROP CONSTRAINT suppressions_reason_check;
ALTER TABLE suppressions ADD CONSTRAINT suppressions_reason_check
  CHECK (reason IN ('unsubscribe', 'hard_bounce', 'soft_bounce', 'complaint', 'manual'));
ALTER TABLE contacts DROP CONSTRAINT contacts_blocked_reason_check;
ALTER TABLE contacts ADD CONSTRAINT contacts_blocked_reason_check
  CHECK (blocked_reason IN ('hard_bounce', 'soft_bounce', 'complaint', 'manual'));
-- GET /api/v1/suppressions filters by reason in its own order (newest first)
CREATE INDEX suppressions_workspace_reason_created_idx ON suppressions (workspace_id, reason, created_at DESC);
