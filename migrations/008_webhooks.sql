-- Webhooks (issue 11; the README's "Webhooks"). The event tables (message_events, domain_events, contact_events)
-- are written in the transaction of each change; statement triggers copy the new rows' references into
-- webhook_outbox in that same transaction, so a crash can delay an event but never lose it. A fan-out pass turns
-- outbox rows into one webhook_deliveries row per subscribed endpoint; the delivery loop POSTs them and keeps
-- each attempt in webhook_attempts.

CREATE TABLE webhook_endpoints (
  id uuid PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  url text NOT NULL,
  -- webhook event names, or '{*}' for every event
  events text[] NOT NULL,
  signature_scheme text NOT NULL DEFAULT 's1' CHECK (signature_scheme IN ('s1', 's2', 's3')),
  -- the signing secret, encrypted with the server key (SECRET_KEY) like DKIM private keys: it must be usable to
  -- sign, so a hash would not do; the hint is what the API shows after creation
  secret_sealed text NOT NULL,
  secret_hint text NOT NULL,
  description text,
  -- `failing`: every delivery failed for 24 hours (scaled by WEBHOOK_RETRY_SCALE); still delivered to
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'failing')),
  -- the first failure of the current run of failures; NULL after a success
  failing_since timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_workspace_idx ON webhook_endpoints (workspace_id, created_at, id);

-- References to event rows not yet fanned out. `source` names the table, `event_id` its row.
CREATE TABLE webhook_outbox (
  id bigserial PRIMARY KEY,
  source text NOT NULL CHECK (source IN ('message', 'domain', 'contact')),
  event_id bigint NOT NULL,
  workspace_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
  -- also the event's id in the payload, `webhook-id` and X-Keplars-Delivery: the same on every retry and replay
  id uuid PRIMARY KEY,
  endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  workspace_id uuid NOT NULL,
  event text NOT NULL,
  -- the exact body sent (text, not jsonb, so every attempt signs and sends the same bytes)
  payload text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  -- attempts since creation or the last replay: the index into the retry schedule
  attempts integer NOT NULL DEFAULT 0,
  -- when it may next be claimed; a claim pushes it forward by the lease, so a crashed worker's delivery comes back
  next_attempt_at timestamptz,
  locked_by text,
  last_status_code integer,
  last_latency_ms integer,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);

CREATE TABLE webhook_attempts (
  id bigserial PRIMARY KEY,
  delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  status_code integer,
  latency_ms integer NOT NULL,
  -- the first KiB of the receiver's answer
  body_excerpt text,
  error text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);

-- One statement per batch of events: nothing at all while no workspace has an endpoint, and only the rows of
-- workspaces that have one (active or failing) otherwise.
--
-- The NOTIFY wakes the fan-out on PostgreSQL at commit (QueueSignal's channel and topic). It is sent only when
-- no older outbox row is visible: while rows wait, a worker is already working through them, and a NOTIFY per
-- send would serialise commits on the notification queue. A wake-up missed in the race with a fan-out that
-- is just finishing is made up by the workers' polling (WEBHOOK_POLL_MS); the embedded database is polled.
CREATE FUNCTION webhook_outbox_wake(first bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF first IS NOT NULL AND NOT EXISTS (SELECT 1 FROM webhook_outbox WHERE id < first) THEN
    PERFORM pg_notify('keplars_queue', 'webhooks');
  END IF;
END $$;

CREATE FUNCTION webhook_outbox_from_messages() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE first bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE status <> 'disabled') THEN RETURN NULL; END IF;
  WITH ins AS (
    INSERT INTO webhook_outbox (source, event_id, workspace_id)
    SELECT 'message', n.id, m.workspace_id
      FROM added n JOIN messages m ON m.id = n.message_id
     WHERE m.workspace_id IN (SELECT workspace_id FROM webhook_endpoints WHERE status <> 'disabled')
    RETURNING id)
  SELECT min(id) INTO first FROM ins;
  PERFORM webhook_outbox_wake(first);
  RETURN NULL;
END $$;

CREATE FUNCTION webhook_outbox_from_domains() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE first bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE status <> 'disabled') THEN RETURN NULL; END IF;
  WITH ins AS (
    INSERT INTO webhook_outbox (source, event_id, workspace_id)
    SELECT 'domain', n.id, d.workspace_id
      FROM added n JOIN domains d ON d.id = n.domain_id
     WHERE d.workspace_id IN (SELECT workspace_id FROM webhook_endpoints WHERE status <> 'disabled')
    RETURNING id)
  SELECT min(id) INTO first FROM ins;
  PERFORM webhook_outbox_wake(first);
  RETURN NULL;
END $$;

CREATE FUNCTION webhook_outbox_from_contacts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE first bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE status <> 'disabled') THEN RETURN NULL; END IF;
  WITH ins AS (
    INSERT INTO webhook_outbox (source, event_id, workspace_id)
    SELECT 'contact', n.id, n.workspace_id
      FROM added n
     WHERE n.workspace_id IN (SELECT workspace_id FROM webhook_endpoints WHERE status <> 'disabled')
    RETURNING id)
  SELECT min(id) INTO first FROM ins;
  PERFORM webhook_outbox_wake(first);
  RETURN NULL;
END $$;

CREATE TRIGGER message_events_webhooks AFTER INSERT ON message_events
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION webhook_outbox_from_messages();
CREATE TRIGGER domain_events_webhooks AFTER INSERT ON domain_events
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION webhook_outbox_from_domains();
CREATE TRIGGER contact_events_webhooks AFTER INSERT ON contact_events
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION webhook_outbox_from_contacts();

-- Admin keys that held every scope before keep doing everything (as migration 004 did for its scopes).
UPDATE api_keys
   SET scopes = scopes || ARRAY['webhooks:manage']
 WHERE kind = 'admin'
   AND scopes @> ARRAY['contacts:read', 'contacts:write', 'audiences:manage', 'automations:read', 'automations:write',
                       'automations:trigger', 'domains:manage', 'api-keys:create', 'emails:read', 'templates:manage']
   AND NOT scopes @> ARRAY['webhooks:manage'];
