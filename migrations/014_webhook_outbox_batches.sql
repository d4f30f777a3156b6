-- One outbox row per statement and workspace instead of one per event (README, "Webhooks"). Accepting a batch of
-- emails then adds one small row to its transaction, not one per email: the outbox is written on the hot path of
-- every send, and most of its cost was the per-event row and index entry. A row holds at most 500 event ids, so
-- a fan-out pass stays bounded however large the statement that wrote them.
ALTER TABLE webhook_outbox ADD COLUMN event_ids bigint[];
UPDATE webhook_outbox SET event_ids = ARRAY[event_id];
ALTER TABLE webhook_outbox ALTER COLUMN event_ids SET NOT NULL;
ALTER TABLE webhook_outbox DROP COLUMN event_id;

CREATE OR REPLACE FUNCTION webhook_outbox_from_messages() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE first bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE status <> 'disabled') THEN RETURN NULL; END IF;
  WITH picked AS (
    SELECT n.id, m.workspace_id, (row_number() OVER (PARTITION BY m.workspace_id ORDER BY n.id) - 1) / 500 AS chunk
      FROM added n JOIN messages m ON m.id = n.message_id
     WHERE m.workspace_id IN (SELECT workspace_id FROM webhook_endpoints WHERE status <> 'disabled')
  ), ins AS (
    INSERT INTO webhook_outbox (source, event_ids, workspace_id)
    SELECT 'message', array_agg(id ORDER BY id), workspace_id FROM picked GROUP BY workspace_id, chunk
    RETURNING id)
  SELECT min(id) INTO first FROM ins;
  PERFORM webhook_outbox_wake(first);
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION webhook_outbox_from_domains() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE first bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE status <> 'disabled') THEN RETURN NULL; END IF;
  WITH picked AS (
    SELECT n.id, d.workspace_id, (row_number() OVER (PARTITION BY d.workspace_id ORDER BY n.id) - 1) / 500 AS chunk
      FROM added n JOIN domains d ON d.id = n.domain_id
     WHERE d.workspace_id IN (SELECT workspace_id FROM webhook_endpoints WHERE status <> 'disabled')
  ), ins AS (
    INSERT INTO webhook_outbox (source, event_ids, workspace_id)
    SELECT 'domain', array_agg(id ORDER BY id), workspace_id FROM picked GROUP BY workspace_id, chunk
    RETURNING id)
  SELECT min(id) INTO first FROM ins;
  PERFORM webhook_outbox_wake(first);
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION webhook_outbox_from_contacts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE first bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE status <> 'disabled') THEN RETURN NULL; END IF;
  WITH picked AS (
    SELECT n.id, n.workspace_id, (row_number() OVER (PARTITION BY n.workspace_id ORDER BY n.id) - 1) / 500 AS chunk
      FROM added n
     WHERE n.workspace_id IN (SELECT workspace_id FROM webhook_endpoints WHERE status <> 'disabled')
  ), ins AS (
    INSERT INTO webhook_outbox (source, event_ids, workspace_id)
    SELECT 'contact', array_agg(id ORDER BY id), workspace_id FROM picked GROUP BY workspace_id, chunk
    RETURNING id)
  SELECT min(id) INTO first FROM ins;
  PERFORM webhook_outbox_wake(first);
  RETURN NULL;
END $$;
