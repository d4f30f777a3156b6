import { sql } from 'kysely';
import { inTransaction, type Db } from '../../src/platform/db/database.js';
import { uuidv7 } from '../../src/platform/ids.js';
import type { QueueSignal } from '../../src/platform/queue/signal.js';
import { enrollContacts } from '../../src/modules/automations/index.js';

/**
 * Automations written straight to the database (version 1 of the graph), and contacts enrolled as a trigger would:
 * the engine's tests do not need the API's routes to run steps.
 */
export async function insertAutomation(db: Db, o: { workspaceId: string; steps: Record<string, unknown>[]; status?: 'draft' | 'active' | 'paused' | 'archived'; name?: string }): Promise<string> {
  const id = uuidv7();
  await db
    .insertInto('automations')
    .values({ id, workspace_id: o.workspaceId, name: o.name ?? `automation ${id.slice(-6)}`, trigger_type: 'manual', trigger_config: '{}', status: o.status ?? 'active' })
    .execute();
  await db.insertInto('automation_versions').values({ automation_id: id, version: 1, graph: JSON.stringify({ steps: o.steps }) }).execute();
  return id;
}

export async function insertContacts(db: Db, workspaceId: string, contacts: { email: string; first_name?: string; last_name?: string; tags?: string[]; custom_fields?: Record<string, unknown> }[]): Promise<string[]> {
  const rows = contacts.map((c) => ({
    id: uuidv7(),
    workspace_id: workspaceId,
    email: c.email,
    email_key: c.email.toLowerCase(),
    first_name: c.first_name ?? null,
    last_name: c.last_name ?? null,
    tags: c.tags ?? [],
    custom_fields: JSON.stringify(c.custom_fields ?? {}),
  }));
  for (let i = 0; i < rows.length; i += 1000) await db.insertInto('contacts').values(rows.slice(i, i + 1000)).execute();
  return rows.map((r) => r.id);
}

/** Enrolls as a trigger does; returns the enrollment ids in the order of `contactIds`. */
export async function enroll(db: Db, signal: QueueSignal, o: { workspaceId: string; automationId: string; contactIds: string[]; triggerData?: Record<string, unknown> }): Promise<string[]> {
  await inTransaction(db, (trx) => enrollContacts(trx, signal, o));
  const rows = await db.selectFrom('automation_enrollments').select(['id', 'contact_id']).where('automation_id', '=', o.automationId).where('contact_id', 'in', o.contactIds).execute();
  const byContact = new Map(rows.map((r) => [r.contact_id, r.id]));
  return o.contactIds.map((c) => byContact.get(c)!);
}

export function enrollmentRows(db: Db, automationId: string) {
  return db.selectFrom('automation_enrollments').selectAll().where('automation_id', '=', automationId).execute();
}

export function stepRuns(db: Db, enrollmentId: string) {
  return db.selectFrom('automation_step_runs').selectAll().where('enrollment_id', '=', enrollmentId).orderBy('seq').execute();
}

/** The emails the engine accepted for an automation (their metadata names it). */
export function automationEmails(db: Db, automationId: string) {
  return db
    .selectFrom('messages')
    .innerJoin('message_recipients', 'message_recipients.message_id', 'messages.id')
    .select(['messages.id', 'messages.subject', 'messages.html', 'messages.text_body', 'messages.headers', 'messages.metadata', 'messages.from_email', 'messages.from_name', 'messages.tier', 'messages.api_key_id', 'messages.created_at', 'messages.track_opens', 'message_recipients.email as to'])
    .where(sql<string>`messages.metadata->>'automation_id'`, '=', automationId)
    .execute();
}
