-- Custom sending domains: the domain, its DKIM keys (private halves encrypted with the server key), and a
-- timeline of what happened to it (verified, records gone, key rotated).

CREATE TABLE domains (
  id uuid PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- A-label form, lowercase, no trailing dot
  name text NOT NULL,
  region text NOT NULL CHECK (region IN ('us-east-1', 'ap-southeast-1', 'af-south-1')),
  -- the return-path domain (e.g. bounces.example.com), fixed at creation so a config change cannot move it
  mail_from_domain text NOT NULL,
  verification_status text NOT NULL DEFAULT 'pending' CHECK (verification_status IN ('pending', 'verified', 'failed', 'temporary_failure')),
  mail_from_status text NOT NULL DEFAULT 'pending' CHECK (mail_from_status IN ('pending', 'verified', 'failed', 'temporary_failure')),
  -- the last result of each record's check: what was found next to what is expected, and why it fails
  checks jsonb NOT NULL DEFAULT '[]',
  -- start of the current 72-hour window of automatic re-checks
  verification_started_at timestamptz NOT NULL DEFAULT now(),
  verified_at timestamptz,
  mail_from_verified_at timestamptz,
  last_checked_at timestamptz,
  -- deletion is irreversible: the keys are destroyed, the row stays so sending keys tied to it stop working
  deleted_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX domains_workspace_name_idx ON domains (workspace_id, name) WHERE deleted_at IS NULL;

CREATE TABLE domain_dkim_keys (
  id uuid PRIMARY KEY,
  domain_id uuid NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
  selector text NOT NULL,
  -- base64 SubjectPublicKeyInfo: the p= of the DNS record
  public_key text NOT NULL,
  -- AES-256-GCM under the server key (SECRET_KEY), bound to this row's id
  private_key_sealed text NOT NULL,
  -- pending: published by a rotation, not yet seen in DNS; active: signs; retired: replaced by a rotation
  status text NOT NULL CHECK (status IN ('pending', 'active', 'retired')),
  created_at timestamptz NOT NULL DEFAULT now(),
  activated_at timestamptz,
  retired_at timestamptz,
  UNIQUE (domain_id, selector)
);
CREATE UNIQUE INDEX domain_dkim_keys_one_active_idx ON domain_dkim_keys (domain_id) WHERE status = 'active';
CREATE UNIQUE INDEX domain_dkim_keys_one_pending_idx ON domain_dkim_keys (domain_id) WHERE status = 'pending';

CREATE TABLE domain_events (
  id bigserial PRIMARY KEY,
  domain_id uuid NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
  type text NOT NULL,
  detail jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX domain_events_domain_idx ON domain_events (domain_id, id);

-- A sending key tied to a domain must never outlive it as an untied key (which could send from any verified
-- domain), so no ON DELETE SET NULL: domains are only ever soft-deleted, or removed with their workspace.
ALTER TABLE api_keys ADD CONSTRAINT api_keys_domain_fk FOREIGN KEY (domain_id) REFERENCES domains (id);
