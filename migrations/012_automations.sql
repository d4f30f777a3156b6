-- Automations (spec §6, decisions §5; the README's "Automations"). An automation is a trigger and a graph of steps.
-- Saving a changed graph makes a new version; an enrollment runs the version it started on, so a change applies to
-- new enrollments only. Each step of an enrollment runs from a job (queue `automation.step`, dedupe key
-- `automation:<enrollment>:<seq>`): a delay of days is one job with a later due time, not polling per contact.

-- date_time triggers fire at a wall-clock time in the contact's time zone, else in the workspace's
ALTER TABLE workspaces ADD COLUMN timezone text NOT NULL DEFAULT 'UTC';

CREATE TABLE automations (
  id uuid PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  name text NOT NULL,
  description text,
  -- only `active` enrolls; `paused` holds running enrollments at their next step until it is active again
  status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'paused', 'archived')),
  trigger_type text NOT NULL CHECK (trigger_type IN ('contact_event', 'contact_added_to_audience', 'date_time', 'manual')),
  trigger_config jsonb NOT NULL DEFAULT '{}',
  -- the graph version new enrollments start on (automation_versions)
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX automations_workspace_created_idx ON automations (workspace_id, created_at, id);
-- a trigger (events/track, a new audience member) looks for the active automations it starts
CREATE INDEX automations_active_trigger_idx ON automations (workspace_id, trigger_type) WHERE status = 'active';

CREATE TABLE automation_versions (
  automation_id uuid NOT NULL REFERENCES automations (id) ON DELETE CASCADE,
  version integer NOT NULL,
  -- { "steps": [ { "id", "type", … } ] }, validated when saved (modules/automations/graph.ts); the first step is the entry
  graph jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (automation_id, version)
);

CREATE TABLE automation_enrollments (
  id uuid PRIMARY KEY,
  automation_id uuid NOT NULL REFERENCES automations (id) ON DELETE CASCADE,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- no foreign key: a deleted contact's enrollment stops at its next step and keeps its history
  contact_id uuid NOT NULL,
  version integer NOT NULL,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'exited')),
  -- why an enrollment ended before the end of the graph: unenrolled, contact_deleted, contact_blocked, exit_step,
  -- automation_archived, automation_deleted, step_failed
  exit_reason text,
  -- the step to run next (null once ended) and when it is due
  current_step text,
  next_run_at timestamptz,
  -- steps run so far: the job of step n carries seq n, and runs only while the enrollment's seq is still n, so
  -- a job that comes back after a crash finds its step already done
  seq integer NOT NULL DEFAULT 0,
  -- what the trigger knew: { "event": { …properties } } for contact_event
  trigger_data jsonb NOT NULL DEFAULT '{}',
  enrolled_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- a contact is in an automation at most once at a time: enrolling it again while it runs is a no-op
CREATE UNIQUE INDEX automation_enrollments_one_active ON automation_enrollments (automation_id, contact_id) WHERE status = 'active';
CREATE INDEX automation_enrollments_automation_idx ON automation_enrollments (automation_id, enrolled_at, id);
CREATE INDEX automation_enrollments_contact_idx ON automation_enrollments (contact_id) WHERE status = 'active';
-- enrolled, completed and running counts are counted from here when an automation is read (an index-only scan), not
-- kept in columns of automations: a counter there is one row that every enrollment and every batch of steps
-- would update, and concurrent enrollments would queue on its lock
CREATE INDEX automation_enrollments_status_idx ON automation_enrollments (automation_id, status);

-- What each step of an enrollment did, in order: the enrollment's history, and what a condition reads back
-- (the email a send step accepted, to look for its opens and clicks).
CREATE TABLE automation_step_runs (
  enrollment_id uuid NOT NULL REFERENCES automation_enrollments (id) ON DELETE CASCADE,
  seq integer NOT NULL,
  step_id text NOT NULL,
  step_type text NOT NULL,
  due_at timestamptz NOT NULL,
  ran_at timestamptz NOT NULL DEFAULT now(),
  -- sent, suppressed, waited, true, false, done, exited, skipped
  outcome text NOT NULL,
  message_id text,
  detail jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (enrollment_id, seq)
);

-- events/track calls: the event_id the answer names, and what it started
CREATE TABLE automation_events (
  id uuid PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  contact_id uuid NOT NULL,
  event_name text NOT NULL,
  properties jsonb NOT NULL DEFAULT '{}',
  enrolled integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX automation_events_workspace_idx ON automation_events (workspace_id, created_at);

-- date_time triggers on a contact's date field fire once per contact and occurrence (a date, or a year's
-- anniversary): the row is the proof it fired, so a re-run of the scan enrolls nobody twice
CREATE TABLE automation_occurrences (
  automation_id uuid NOT NULL REFERENCES automations (id) ON DELETE CASCADE,
  contact_id uuid NOT NULL,
  occurrence text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (automation_id, contact_id, occurrence)
);
