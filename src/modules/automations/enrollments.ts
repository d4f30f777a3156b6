import { sql } from 'kysely';
import type { Tx } from '../../platform/db/database.js';
import { JOBS_TOPIC } from '../../platform/queue/jobs-store.js';
import type { QueueSignal } from '../../platform/queue/signal.js';

/** The jobs queue every step of every enrollment runs from (engine). */
export const AUTOMATION_STEP_QUEUE = 'automation.step';

/**
 * Step n of an enrollment is one job: a second job for the same step cannot be enqueued while the first waits or
 * runs, and a job that outlives its step finds the enrollment's seq moved on (migration 012).
 */
export const stepDedupeKey = (enrollmentId: string, seq: number): string => `automation:${enrollmentId}:${seq}`;

export interface StepJobPayload {
  enrollmentId: string;
  seq: number;
}

export interface EnrollRequest {
  workspaceId: string;
  automationId: string;
  contactIds: readonly string[];
  /** stored with each enrollment: `{ event: {...} }` for contact_event triggers */
  triggerData?: Record<string, unknown>;
}

/**
 * Enrolls contacts of the workspace in an active automation, in the caller's transaction: one enrollment row and
 * its first step's job per contact, in two statements whatever the number of contacts. The automation row is not
 * locked: concurrent enrollments must not queue on it, nor build multixacts of share locks on one hot row. An
 * enrollment that commits just after a pause or an archive is held or ended by the engine at its first step, which
 * reads the automation's status then (README, "The automation engine"). A contact already running the automation, a blocked contact, a contact of another workspace and an
 * automation that is not active enroll nobody. Returns the contacts enrolled.
 */
export async function enrollContacts(trx: Tx, signal: QueueSignal, req: EnrollRequest): Promise<string[]> {
  if (req.contactIds.length === 0) return [];
  const triggerData = JSON.stringify(req.triggerData ?? {});
  const enrolled = await sql<{ id: string; contact_id: string }>`
    WITH a AS (
      SELECT id, workspace_id, version FROM automations
       WHERE id = ${req.automationId} AND workspace_id = ${req.workspaceId} AND status = 'active'
    ), graph AS (
      SELECT v.graph -> 'steps' -> 0 ->> 'id' AS entry FROM automation_versions v JOIN a ON v.automation_id = a.id AND v.version = a.version
    )
    INSERT INTO automation_enrollments (id, automation_id, workspace_id, contact_id, version, status, current_step, next_run_at, trigger_data)
    SELECT gen_random_uuid(), a.id, a.workspace_id, c.id, a.version, 'active', graph.entry, now(), ${triggerData}::jsonb
      FROM a CROSS JOIN graph
      JOIN contacts c ON c.workspace_id = a.workspace_id AND c.id = ANY(${req.contactIds as string[]}::uuid[]) AND c.status = 'subscribed'
    ON CONFLICT (automation_id, contact_id) WHERE status = 'active' DO NOTHING
    RETURNING id, contact_id`.execute(trx);
  if (enrolled.rows.length === 0) return [];
  const ids = enrolled.rows.map((r) => r.id);
  await sql`
    INSERT INTO jobs (id, queue, dedupe_key, payload, status, max_attempts, next_attempt_at)
    SELECT gen_random_uuid(), ${AUTOMATION_STEP_QUEUE}, 'automation:' || e.id || ':0', jsonb_build_object('enrollmentId', e.id, 'seq', 0), 'pending', 10, now()
      FROM unnest(${ids}::uuid[]) AS e(id)
    ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('pending', 'running') DO NOTHING`.execute(trx);
  await signal.notifyInTransaction(trx, JOBS_TOPIC);
  return enrolled.rows.map((r) => r.contact_id);
}
