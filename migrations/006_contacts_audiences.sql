-- Contacts and audiences (spec §4.6; the README's "Contacts and audiences"). A contact belongs to the workspace and
-- is found by its address without regard to case (email_key), while `email` keeps the spelling it was given. It
-- may belong to many audiences, each membership with a subscription state of its own.

CREATE TABLE contacts (
  id uuid PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  email text NOT NULL,
  email_key text NOT NULL,
  first_name text,
  last_name text,
  company_name text,
  job_title text,
  phone text,
  tags text[] NOT NULL DEFAULT '{}',
  custom_fields jsonb NOT NULL DEFAULT '{}',
  -- global status: a blocked contact is mailed by no campaign or automation, whatever its memberships say
  status text NOT NULL DEFAULT 'subscribed' CHECK (status IN ('subscribed', 'blocked')),
  blocked_reason text CHECK (blocked_reason IN ('hard_bounce', 'complaint', 'manual')),
  blocked_at timestamptz,
  -- 0–100, lowered by bounces and complaints once they are read back (a sort key of get-contacts)
  deliverability_score smallint NOT NULL DEFAULT 100,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'blocked') = (blocked_reason IS NOT NULL))
);
CREATE UNIQUE INDEX contacts_workspace_email_key ON contacts (workspace_id, email_key);
-- get-contacts over the whole workspace, in its default order
CREATE INDEX contacts_workspace_created_idx ON contacts (workspace_id, created_at, id);

CREATE TABLE audiences (
  id uuid PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  name text NOT NULL,
  description text,
  -- members in any state; kept exact by the statement triggers below, in the transaction of each change
  contact_count integer NOT NULL DEFAULT 0,
  -- a subscription through the hosted form waits for a click on a link mailed to the address
  double_opt_in boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audiences_workspace_created_idx ON audiences (workspace_id, created_at, id);

CREATE TABLE audience_members (
  audience_id uuid NOT NULL REFERENCES audiences (id) ON DELETE CASCADE,
  contact_id uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  -- `pending` only while a double opt-in waits for its click
  status text NOT NULL DEFAULT 'subscribed' CHECK (status IN ('subscribed', 'unsubscribed', 'pending')),
  subscribed_at timestamptz,
  unsubscribed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (audience_id, contact_id)
);
CREATE INDEX audience_members_contact_idx ON audience_members (contact_id);

-- One statement that adds or removes many members (an import batch, deleting a contact with its memberships)
-- changes each audience's count once, not once per row.
CREATE FUNCTION audience_members_count_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE audiences a SET contact_count = a.contact_count + n.c
    FROM (SELECT audience_id, count(*)::int AS c FROM added GROUP BY audience_id) n
   WHERE a.id = n.audience_id;
  RETURN NULL;
END $$;

CREATE FUNCTION audience_members_count_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE audiences a SET contact_count = a.contact_count - n.c
    FROM (SELECT audience_id, count(*)::int AS c FROM removed GROUP BY audience_id) n
   WHERE a.id = n.audience_id;
  RETURN NULL;
END $$;

CREATE TRIGGER audience_members_added AFTER INSERT ON audience_members
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION audience_members_count_added();
CREATE TRIGGER audience_members_removed AFTER DELETE ON audience_members
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION audience_members_count_removed();

-- What happened to contacts, written in the transaction of each change, for webhooks to send once they exist.
-- No foreign key to contacts: the event of a deleted contact outlives it.
CREATE TABLE contact_events (
  -- a sequence, so the events of one transaction keep their order
  id bigserial PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  contact_id uuid NOT NULL,
  audience_id uuid,
  type text NOT NULL CHECK (type IN ('contact.created', 'contact.updated', 'contact.deleted', 'contact.subscribed', 'contact.unsubscribed')),
  data jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contact_events_workspace_idx ON contact_events (workspace_id, id);
CREATE INDEX contact_events_contact_idx ON contact_events (contact_id, id);
