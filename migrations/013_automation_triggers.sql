-- contact_added_to_audience triggers (the README's "Automation triggers"). Every way a membership becomes
-- `subscribed` (add-contact with an audience, a CSV import batch, the subscribe form and its double opt-in
-- confirmation, an automation's subscribe action, update-contact) writes a `contact.subscribed` event with its
-- audience_id in the transaction of the change (contacts/store.ts, import-store.ts). This statement trigger turns
-- those events into ONE job per statement (queue `automation.audience-trigger`, payload the event ids) in that same
-- transaction, so a crash can delay an enrollment but never lose it, and an import batch of thousands of rows costs
-- one job, not a round trip per row. The job (modules/automations/audience-trigger.ts) enrolls in batches.
--
-- Cheap when unused: nothing at all while no automation with this trigger is active anywhere (an index-only look at
-- automations_active_trigger_idx), and only the events of an audience an active automation starts from otherwise.
CREATE FUNCTION automation_audience_trigger_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE ids jsonb;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM automations WHERE status = 'active' AND trigger_type = 'contact_added_to_audience') THEN
    RETURN NULL;
  END IF;
  SELECT jsonb_agg(n.id ORDER BY n.id) INTO ids
    FROM added n
   WHERE n.type = 'contact.subscribed' AND n.audience_id IS NOT NULL
     AND EXISTS (SELECT 1 FROM automations a
                  WHERE a.workspace_id = n.workspace_id AND a.trigger_type = 'contact_added_to_audience' AND a.status = 'active'
                    AND lower(a.trigger_config ->> 'audience_id') = n.audience_id::text);
  IF ids IS NULL THEN RETURN NULL; END IF;
  INSERT INTO jobs (id, queue, payload, status, max_attempts, next_attempt_at)
  VALUES (gen_random_uuid(), 'automation.audience-trigger', jsonb_build_object('eventIds', ids), 'pending', 10, now());
  -- wakes the jobs workers at commit on PostgreSQL (QueueSignal's channel and topic); the embedded database is polled
  PERFORM pg_notify('keplars_queue', 'jobs');
  RETURN NULL;
END $$;

CREATE TRIGGER contact_events_automation_audience AFTER INSERT ON contact_events
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION automation_audience_trigger_jobs();
