import { sql } from 'kysely';
import type { Db, Tx } from '../../platform/db/database.js';
import type { AutomationEnrollmentRow, AutomationRow, AutomationStatus, AutomationStepRunRow, AutomationTriggerType } from '../../platform/db/schema.js';
import type { Cursor } from '../../platform/http/cursor.js';
import { isUuid } from '../../platform/ids.js';
import type { Graph } from './graph.js';

/** The SQL of the automations API (migration 012). */

export interface NewAutomation {
  id: string;
  workspaceId: string;
  name: string;
  description: string | null;
  triggerType: AutomationTriggerType;
  triggerConfig: Record<string, unknown>;
  graph: Graph;
}

export async function insertAutomation(trx: Tx, a: NewAutomation): Promise<AutomationRow> {
  const row = await trx
    .insertInto('automations')
    .values({
      id: a.id,
      workspace_id: a.workspaceId,
      name: a.name,
      description: a.description,
      trigger_type: a.triggerType,
      trigger_config: JSON.stringify(a.triggerConfig),
      // to the millisecond, as a cursor carries it (PostgreSQL's now() has microseconds)
      created_at: new Date(),
      updated_at: new Date(),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await trx.insertInto('automation_versions').values({ automation_id: a.id, version: 1, graph: JSON.stringify(a.graph) }).execute();
  return row;
}

/** Automations of the workspace, archived ones included; locks the workspace's row so two creates count one after the other. */
export async function countForCreate(trx: Tx, workspaceId: string): Promise<number> {
  await trx.selectFrom('workspaces').select('id').where('id', '=', workspaceId).forUpdate().executeTakeFirst();
  const row = await trx.selectFrom('automations').select(sql<number>`count(*)::int`.as('n')).where('workspace_id', '=', workspaceId).executeTakeFirstOrThrow();
  return row.n;
}

/** Ids are never refused for their form (spec §1.6): one that is not a UUID names no automation. */
export function findAutomation(db: Db | Tx, workspaceId: string, id: string): Promise<AutomationRow | undefined> {
  if (!isUuid(id)) return Promise.resolve(undefined);
  return db.selectFrom('automations').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
}

/** The row locked for the rest of the transaction: status changes and edits of one automation go one after the other. */
export function lockAutomation(trx: Tx, workspaceId: string, id: string): Promise<AutomationRow | undefined> {
  if (!isUuid(id)) return Promise.resolve(undefined);
  return trx.selectFrom('automations').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).forUpdate().executeTakeFirst();
}

export async function findGraph(db: Db | Tx, automationId: string, version: number): Promise<Graph> {
  const row = await db.selectFrom('automation_versions').select('graph').where('automation_id', '=', automationId).where('version', '=', version).executeTakeFirstOrThrow();
  return row.graph as unknown as Graph;
}

export interface AutomationChanges {
  name?: string;
  description?: string | null;
  trigger?: { type: AutomationTriggerType; config: Record<string, unknown> };
  /** a new version of the graph: the automation's version goes up by one */
  graph?: Graph;
}

export async function updateAutomation(trx: Tx, current: AutomationRow, c: AutomationChanges): Promise<AutomationRow> {
  const version = c.graph ? current.version + 1 : current.version;
  if (c.graph) await trx.insertInto('automation_versions').values({ automation_id: current.id, version, graph: JSON.stringify(c.graph) }).execute();
  return trx
    .updateTable('automations')
    .set({
      ...(c.name !== undefined ? { name: c.name } : {}),
      ...(c.description !== undefined ? { description: c.description } : {}),
      ...(c.trigger ? { trigger_type: c.trigger.type, trigger_config: JSON.stringify(c.trigger.config) } : {}),
      version,
      updated_at: new Date(),
    })
    .where('id', '=', current.id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function setStatus(trx: Tx, id: string, status: AutomationStatus): Promise<AutomationRow> {
  return trx.updateTable('automations').set({ status, updated_at: new Date() }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
}

/** Ends the automation's running enrollments (archive, delete): the engine skips a step whose enrollment is not active. */
export async function endActiveEnrollments(trx: Tx, automationId: string, reason: string): Promise<number> {
  const ended = await trx
    .updateTable('automation_enrollments')
    .set({ status: 'exited', exit_reason: reason, current_step: null, next_run_at: null, ended_at: new Date(), updated_at: new Date() })
    .where('automation_id', '=', automationId)
    .where('status', '=', 'active')
    .executeTakeFirst();
  return Number(ended.numUpdatedRows);
}

export async function deleteAutomationRow(trx: Tx, id: string): Promise<void> {
  await trx.deleteFrom('automations').where('id', '=', id).execute();
}

/** Running enrollments per automation, for the answers that show them. */
export interface EnrollmentCounts {
  /** enrollments ever made */
  enrolled_count: number;
  /** enrollments that reached the end of the graph */
  completed_count: number;
  /** enrollments running now */
  active_count: number;
}

/** Counted per automation and status on automation_enrollments_status_idx (migration 012 says why not kept in columns). */
export async function enrollmentCounts(db: Db, ids: readonly string[]): Promise<Map<string, EnrollmentCounts>> {
  const counts = new Map<string, EnrollmentCounts>(ids.map((id) => [id, { enrolled_count: 0, completed_count: 0, active_count: 0 }]));
  if (ids.length === 0) return counts;
  const rows = await db
    .selectFrom('automation_enrollments')
    .select(['automation_id', 'status', sql<number>`count(*)::int`.as('n')])
    .where('automation_id', 'in', ids)
    .groupBy(['automation_id', 'status'])
    .execute();
  for (const r of rows) {
    const c = counts.get(r.automation_id)!;
    c.enrolled_count += r.n;
    if (r.status === 'completed') c.completed_count = r.n;
    if (r.status === 'active') c.active_count = r.n;
  }
  return counts;
}

export interface PageQuery {
  page: number;
  limit: number;
  /** absent: every status but archived */
  status?: AutomationStatus;
}

/** A page of the workspace's automations, oldest first (get-all), and how many there are. */
export async function pageOfAutomations(db: Db, workspaceId: string, q: PageQuery): Promise<{ rows: AutomationRow[]; total: number }> {
  let base = db.selectFrom('automations').where('workspace_id', '=', workspaceId);
  base = q.status ? base.where('status', '=', q.status) : base.where('status', '!=', 'archived');
  const [rows, counted] = await Promise.all([
    base.selectAll().orderBy('created_at').orderBy('id').limit(q.limit).offset((q.page - 1) * q.limit).execute(),
    base.select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: counted.n };
}

/** The extension's list: keyset pages, oldest first, every status unless one is asked for. */
export function listAutomations(db: Db, workspaceId: string, q: { limit: number; cursor?: Cursor; status?: AutomationStatus }): Promise<AutomationRow[]> {
  let query = db.selectFrom('automations').selectAll().where('workspace_id', '=', workspaceId);
  if (q.status) query = query.where('status', '=', q.status);
  if (q.cursor) {
    const c = q.cursor;
    query = query.where((eb) => eb.or([eb('created_at', '>', c.createdAt), eb.and([eb('created_at', '=', c.createdAt), eb('id', '>', c.id)])]));
  }
  return query.orderBy('created_at').orderBy('id').limit(q.limit + 1).execute();
}

/** How many automations one event starts at most: bounds the work of one events/track call. */
export const MAX_AUTOMATIONS_PER_EVENT = 100;

/** The active contact_event automations of the workspace that an event of this name starts (the oldest, up to the bound). */
export async function automationsForEvent(db: Db | Tx, workspaceId: string, eventName: string): Promise<string[]> {
  const rows = await db
    .selectFrom('automations')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('trigger_type', '=', 'contact_event')
    .where('status', '=', 'active')
    .where(sql<boolean>`trigger_config ->> 'event_name' = ${eventName}`)
    .orderBy('created_at')
    .limit(MAX_AUTOMATIONS_PER_EVENT)
    .execute();
  return rows.map((r) => r.id);
}

export async function insertEvent(trx: Tx, e: { id: string; workspaceId: string; contactId: string; eventName: string; properties: Record<string, unknown> }): Promise<Date> {
  const row = await trx
    .insertInto('automation_events')
    .values({ id: e.id, workspace_id: e.workspaceId, contact_id: e.contactId, event_name: e.eventName, properties: JSON.stringify(e.properties) })
    .returning('created_at')
    .executeTakeFirstOrThrow();
  return row.created_at;
}

export async function setEventEnrolled(trx: Tx, id: string, enrolled: number): Promise<void> {
  await trx.updateTable('automation_events').set({ enrolled }).where('id', '=', id).execute();
}

/** The contact's running enrollment in the automation, locked: one unenroll at a time. */
export function lockActiveEnrollment(trx: Tx, automationId: string, contactId: string): Promise<AutomationEnrollmentRow | undefined> {
  return trx
    .selectFrom('automation_enrollments')
    .selectAll()
    .where('automation_id', '=', automationId)
    .where('contact_id', '=', contactId)
    .where('status', '=', 'active')
    .forUpdate()
    .executeTakeFirst();
}

export async function exitEnrollment(trx: Tx, id: string, reason: string): Promise<void> {
  await trx
    .updateTable('automation_enrollments')
    .set({ status: 'exited', exit_reason: reason, current_step: null, next_run_at: null, ended_at: new Date(), updated_at: new Date() })
    .where('id', '=', id)
    .execute();
}

export type EnrollmentWithContact = AutomationEnrollmentRow & { email: string | null };

/** A keyset page of an automation's enrollments, oldest first, with the contact's address (null once deleted). */
export function listEnrollments(db: Db, automationId: string, q: { limit: number; cursor?: Cursor; status?: AutomationEnrollmentRow['status'] }): Promise<EnrollmentWithContact[]> {
  let query = db
    .selectFrom('automation_enrollments as e')
    .leftJoin('contacts as c', 'c.id', 'e.contact_id')
    .selectAll('e')
    .select('c.email')
    .where('e.automation_id', '=', automationId);
  if (q.status) query = query.where('e.status', '=', q.status);
  if (q.cursor) {
    const c = q.cursor;
    // enrolled_at has microseconds (now() of the enrolling transaction); a cursor carries milliseconds
    const at = sql<Date>`date_trunc('milliseconds', e.enrolled_at)`;
    query = query.where((eb) => eb.or([eb(at, '>', c.createdAt), eb.and([eb(at, '=', c.createdAt), eb('e.id', '>', c.id)])]));
  }
  return query.orderBy(sql`date_trunc('milliseconds', e.enrolled_at)`).orderBy('e.id').limit(q.limit + 1).execute();
}

/** How many of the latest step runs of each enrollment a listing shows. */
export const HISTORY_LIMIT = 50;

/** The latest step runs of each enrollment, oldest first within each. */
export async function stepRunsOf(db: Db, enrollmentIds: readonly string[]): Promise<Map<string, AutomationStepRunRow[]>> {
  const out = new Map<string, AutomationStepRunRow[]>();
  if (enrollmentIds.length === 0) return out;
  const rows = await sql<AutomationStepRunRow>`
    SELECT enrollment_id, seq, step_id, step_type, due_at, ran_at, outcome, message_id, detail FROM (
      SELECT r.*, row_number() OVER (PARTITION BY enrollment_id ORDER BY seq DESC) AS recent
        FROM automation_step_runs r WHERE enrollment_id = ANY(${enrollmentIds as string[]}::uuid[])
    ) latest WHERE recent <= ${HISTORY_LIMIT} ORDER BY enrollment_id, seq`.execute(db);
  for (const r of rows.rows) {
    const list = out.get(r.enrollment_id);
    if (list) list.push(r);
    else out.set(r.enrollment_id, [r]);
  }
  return out;
}
