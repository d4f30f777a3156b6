import { sql } from 'kysely';
import type { Db, Tx } from '../../platform/db/database.js';
import type { AutomationStatus, ContactStatus, EnrollmentStatus } from '../../platform/db/schema.js';
import { AUTOMATION_STEP_QUEUE } from './enrollments.js';

/** The contact as the engine reads it: what templates and conditions see, and whether it may still be mailed. */
export interface EngineContact {
  email: string;
  first_name: string | null;
  last_name: string | null;
  company_name: string | null;
  job_title: string | null;
  phone: string | null;
  tags: string[];
  custom_fields: Record<string, unknown>;
  status: ContactStatus;
}

/** An enrollment with its automation's state and its contact (null once the contact is deleted). */
export interface EnrollmentState {
  id: string;
  automation_id: string;
  workspace_id: string;
  contact_id: string;
  version: number;
  status: EnrollmentStatus;
  seq: number;
  current_step: string | null;
  next_run_at: Date | null;
  trigger_data: Record<string, unknown>;
  automation_status: AutomationStatus;
  contact: EngineContact | null;
}

interface StateRow extends Omit<EnrollmentState, 'contact'> {
  contact: EngineContact | null;
}

/**
 * The enrollments of a batch of step jobs in one statement. With `lock` (the step transaction), their rows are
 * locked in id order, so two workers holding overlapping batches wait for each other instead of deadlocking, and a
 * step job that comes back after a crash waits for, then sees, what the first run committed.
 */
export async function loadEnrollments(db: Db | Tx, ids: readonly string[], lock: boolean): Promise<Map<string, EnrollmentState>> {
  if (ids.length === 0) return new Map();
  const res = await sql<StateRow>`
    SELECT e.id, e.automation_id, e.workspace_id, e.contact_id, e.version, e.status, e.seq, e.current_step, e.next_run_at,
           e.trigger_data, a.status AS automation_status,
           CASE WHEN c.id IS NULL THEN NULL ELSE json_build_object(
             'email', c.email, 'first_name', c.first_name, 'last_name', c.last_name, 'company_name', c.company_name,
             'job_title', c.job_title, 'phone', c.phone, 'tags', c.tags, 'custom_fields', c.custom_fields, 'status', c.status) END AS contact
      FROM automation_enrollments e
      JOIN automations a ON a.id = e.automation_id
      LEFT JOIN contacts c ON c.id = e.contact_id AND c.workspace_id = e.workspace_id
     WHERE e.id = ANY(${ids as string[]}::uuid[])
     ORDER BY e.id
     ${lock ? sql`FOR UPDATE OF e` : sql``}`.execute(db);
  return new Map(res.rows.map((r) => [r.id, { ...r, next_run_at: r.next_run_at === null ? null : new Date(r.next_run_at) }]));
}

/** The contact again, after an action step of the same run changed it. */
export async function reloadContact(trx: Tx, workspaceId: string, contactId: string): Promise<EngineContact | null> {
  const row = await trx
    .selectFrom('contacts')
    .select(['email', 'first_name', 'last_name', 'company_name', 'job_title', 'phone', 'tags', 'custom_fields', 'status'])
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', contactId)
    .executeTakeFirst();
  return row ?? null;
}

/** Stored graphs by (automation, version); a version never changes, so callers may cache them. */
export async function loadGraphs(db: Db | Tx, keys: readonly { automationId: string; version: number }[]): Promise<{ automation_id: string; version: number; graph: unknown }[]> {
  if (keys.length === 0) return [];
  const res = await sql<{ automation_id: string; version: number; graph: unknown }>`
    SELECT v.automation_id, v.version, v.graph
      FROM automation_versions v
      JOIN unnest(${keys.map((k) => k.automationId)}::uuid[], ${keys.map((k) => k.version)}::int[]) AS k(automation_id, version)
        ON v.automation_id = k.automation_id AND v.version = k.version`.execute(db);
  return res.rows;
}

export interface WorkspaceSendSettings {
  id: string;
  plan: string;
  track_opens_default: boolean;
  track_clicks_default: boolean;
}

export async function loadWorkspaces(db: Db, ids: readonly string[]): Promise<Map<string, WorkspaceSendSettings>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('workspaces').select(['id', 'plan', 'track_opens_default', 'track_clicks_default']).where('id', 'in', [...ids]).execute();
  return new Map(rows.map((r) => [r.id, r]));
}

/**
 * Which of these addresses may not be mailed: suppressed for every tier, or for bulk when the step sends bulk
 * (migrations/010_suppressions.sql). Returns the indexes of the suppressed ones; one statement for the batch.
 */
export async function suppressedIndexes(trx: Tx, items: readonly { workspaceId: string; email: string; bulk: boolean }[]): Promise<Set<number>> {
  if (items.length === 0) return new Set();
  const res = await sql<{ i: number }>`
    SELECT (x.i - 1)::int AS i
      FROM unnest(${items.map((i) => i.workspaceId)}::uuid[], ${items.map((i) => i.email)}::text[], ${items.map((i) => i.bulk)}::bool[])
           WITH ORDINALITY AS x(workspace_id, email, bulk, i)
     WHERE EXISTS (SELECT 1 FROM suppressions s
                    WHERE s.workspace_id = x.workspace_id AND s.email_key = lower(x.email)
                      AND (s.scope = 'all' OR (s.scope = 'bulk' AND x.bulk)))`.execute(trx);
  return new Set(res.rows.map((r) => Number(r.i)));
}

export interface StepRunRow {
  enrollmentId: string;
  seq: number;
  stepId: string;
  stepType: string;
  dueAt: Date;
  outcome: string;
  messageId: string | null;
  detail: Record<string, unknown>;
}

export async function insertStepRuns(trx: Tx, runs: readonly StepRunRow[]): Promise<void> {
  if (runs.length === 0) return;
  await trx
    .insertInto('automation_step_runs')
    .values(
      runs.map((r) => ({
        enrollment_id: r.enrollmentId,
        seq: r.seq,
        step_id: r.stepId,
        step_type: r.stepType,
        due_at: r.dueAt,
        outcome: r.outcome,
        message_id: r.messageId,
        detail: JSON.stringify(r.detail),
      })),
    )
    .execute();
}

/** Where an enrollment stands after this run: still active at a step due later, or ended. */
export interface Advance {
  enrollmentId: string;
  seq: number;
  status: EnrollmentStatus;
  exitReason: string | null;
  currentStep: string | null;
  nextRunAt: Date | null;
}

/**
 * Moves the enrollments on in one statement each: their rows, and one job per enrollment still active, due when its next step is (a delay of days is one job due days later).
 */
export async function advanceEnrollments(trx: Tx, advances: readonly Advance[]): Promise<void> {
  if (advances.length === 0) return;
  await sql`
    UPDATE automation_enrollments e
       SET seq = x.seq, status = x.status, exit_reason = x.exit_reason, current_step = x.current_step, next_run_at = x.next_run_at,
           ended_at = CASE WHEN x.status = 'active' THEN NULL ELSE now() END, updated_at = now()
      FROM unnest(${advances.map((a) => a.enrollmentId)}::uuid[], ${advances.map((a) => a.seq)}::int[], ${advances.map((a) => a.status)}::text[],
                  ${advances.map((a) => a.exitReason)}::text[], ${advances.map((a) => a.currentStep)}::text[],
                  ${advances.map((a) => (a.nextRunAt ? a.nextRunAt.toISOString() : null))}::timestamptz[])
           AS x(id, seq, status, exit_reason, current_step, next_run_at)
     WHERE e.id = x.id`.execute(trx);
  const next = advances.filter((a) => a.status === 'active' && a.nextRunAt !== null);
  if (next.length > 0) {
    await sql`
      INSERT INTO jobs (id, queue, dedupe_key, payload, status, max_attempts, next_attempt_at)
      SELECT gen_random_uuid(), ${AUTOMATION_STEP_QUEUE}, 'automation:' || x.id || ':' || x.seq, jsonb_build_object('enrollmentId', x.id, 'seq', x.seq),
             'pending', ${STEP_JOB_ATTEMPTS}, x.at
        FROM unnest(${next.map((a) => a.enrollmentId)}::uuid[], ${next.map((a) => a.seq)}::int[], ${next.map((a) => a.nextRunAt!.toISOString())}::timestamptz[]) AS x(id, seq, at)
      ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('pending', 'running') DO NOTHING`.execute(trx);
  }
}

/** Attempts of a step job before its step counts as failed (a crash's lost lease uses one too). */
export const STEP_JOB_ATTEMPTS = 5;

export type JobEnd = { kind: 'done' } | { kind: 'retry'; at: Date; error: string } | { kind: 'wait'; at: Date };

/**
 * Records what became of claimed step jobs, fenced by (locked_by, attempts) like every job: a job whose lease
 * lapsed and that another worker claimed since is left to that worker. `wait` (a paused automation) comes back
 * later with its attempts counted afresh.
 */
export async function finishStepJobs(db: Db | Tx, workerId: string, ends: readonly { id: string; attempts: number; end: JobEnd }[]): Promise<void> {
  if (ends.length === 0) return;
  await sql`
    UPDATE jobs j
       SET status = CASE WHEN x.kind = 'done' THEN 'done' ELSE 'pending' END,
           next_attempt_at = x.at, locked_by = NULL, last_error = x.error,
           attempts = CASE WHEN x.kind = 'wait' THEN 0 ELSE j.attempts END, updated_at = now()
      FROM unnest(${ends.map((e) => e.id)}::uuid[], ${ends.map((e) => e.attempts)}::int[], ${ends.map((e) => e.end.kind)}::text[],
                  ${ends.map((e) => (e.end.kind === 'done' ? null : e.end.at.toISOString()))}::timestamptz[],
                  ${ends.map((e) => (e.end.kind === 'retry' ? e.end.error : null))}::text[]) AS x(id, attempts, kind, at, error)
     WHERE j.id = x.id AND j.attempts = x.attempts AND j.locked_by = ${workerId} AND j.status = 'running'`.execute(db);
}

/**
 * Makes the waiting step jobs of an automation's active enrollments due now: for its activation, so enrollments held
 * while it was paused go on at once rather than at their next look (README, "The automation engine").
 */
export async function wakeWaitingSteps(trx: Tx, automationId: string): Promise<void> {
  await sql`
    UPDATE jobs j SET next_attempt_at = now(), updated_at = now()
      FROM automation_enrollments e
     WHERE e.automation_id = ${automationId} AND e.status = 'active'
       AND j.dedupe_key = 'automation:' || e.id || ':' || e.seq AND j.status = 'pending' AND j.next_attempt_at > now()
       AND e.next_run_at <= now()`.execute(trx);
}
