import { sql } from 'kysely';
import type { Db, Tx } from '../../platform/db/database.js';
import type { AudienceRow, BlockedReason, ContactEventType, ContactRow, MembershipStatus } from '../../platform/db/schema.js';
import { isUuid, uuidv7 } from '../../platform/ids.js';

/** The profile columns a caller may set; absent means unchanged, null clears. */
export interface ProfileColumns {
  first_name?: string | null;
  last_name?: string | null;
  company_name?: string | null;
  job_title?: string | null;
  phone?: string | null;
  tags?: string[];
  custom_fields?: Record<string, unknown>;
}

/** How a contact is found: its address is compared without regard to case (spec §4.6). */
export const emailKey = (email: string): string => email.toLowerCase();

/** Ids are never refused for their form (spec §1.6): one that is not a UUID names no row (and would fail the uuid cast). */
export function findContactById(db: Db | Tx, workspaceId: string, id: string): Promise<ContactRow | undefined> {
  if (!isUuid(id)) return Promise.resolve(undefined);
  return db.selectFrom('contacts').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
}

export function findContactByEmail(db: Db | Tx, workspaceId: string, email: string): Promise<ContactRow | undefined> {
  return db.selectFrom('contacts').selectAll().where('workspace_id', '=', workspaceId).where('email_key', '=', emailKey(email)).executeTakeFirst();
}

/** Locks the contact's row for the rest of the transaction, so two changes to it apply one after the other. */
export function lockContact(trx: Tx, workspaceId: string, by: { id: string } | { email: string }): Promise<ContactRow | undefined> {
  if ('id' in by && !isUuid(by.id)) return Promise.resolve(undefined);
  let q = trx.selectFrom('contacts').selectAll().where('workspace_id', '=', workspaceId);
  q = 'id' in by ? q.where('id', '=', by.id) : q.where('email_key', '=', emailKey(by.email));
  return q.forUpdate().executeTakeFirst();
}

/**
 * The reason an address on the workspace's suppression list for every tier blocks a contact added for it
 * (README, "Bounces and the suppression list"): the oldest such entry's, never an unsubscribe's. The list is
 * keyed by PostgreSQL's lower(), so the address is matched with it.
 */
export const listedBlockReason = (workspaceId: unknown, email: unknown) =>
  sql<BlockedReason | null>`(SELECT s.reason FROM suppressions s
     WHERE s.workspace_id = ${workspaceId}::uuid AND s.email_key = lower(${email}::text) AND s.scope = 'all' AND s.reason <> 'unsubscribe'
     ORDER BY s.created_at LIMIT 1)`;

/** Inserts the contact unless its address is taken (a concurrent add won): then undefined. Blocked when its address is suppressed. */
export async function insertContact(trx: Tx, workspaceId: string, email: string, profile: ProfileColumns): Promise<ContactRow | undefined> {
  const { custom_fields, ...rest } = profile;
  const reason = listedBlockReason(workspaceId, email);
  return trx
    .insertInto('contacts')
    .values({
      id: uuidv7(),
      workspace_id: workspaceId,
      email,
      email_key: emailKey(email),
      status: sql<'subscribed' | 'blocked'>`CASE WHEN ${reason} IS NULL THEN 'subscribed' ELSE 'blocked' END`,
      blocked_reason: reason,
      blocked_at: sql<Date | null>`CASE WHEN ${reason} IS NULL THEN NULL ELSE now() END`,
      ...rest,
      ...(custom_fields ? { custom_fields: JSON.stringify(custom_fields) } : {}),
    })
    .onConflict((oc) => oc.columns(['workspace_id', 'email_key']).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export function updateContactColumns(trx: Tx, id: string, changes: ProfileColumns & { email?: string }): Promise<ContactRow> {
  const { custom_fields, email, ...rest } = changes;
  return trx
    .updateTable('contacts')
    .set({
      ...rest,
      ...(email !== undefined ? { email, email_key: emailKey(email) } : {}),
      ...(custom_fields ? { custom_fields: JSON.stringify(custom_fields) } : {}),
      updated_at: new Date(),
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deleteContactRow(trx: Tx, id: string): Promise<void> {
  await trx.deleteFrom('contacts').where('id', '=', id).execute();
}

export function findAudience(db: Db | Tx, workspaceId: string, id: string): Promise<AudienceRow | undefined> {
  if (!isUuid(id)) return Promise.resolve(undefined);
  return db.selectFrom('audiences').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
}

export function insertAudience(db: Db, a: { workspaceId: string; name: string; description: string | null; doubleOptIn: boolean }): Promise<AudienceRow> {
  return db
    .insertInto('audiences')
    .values({ id: uuidv7(), workspace_id: a.workspaceId, name: a.name, description: a.description, double_opt_in: a.doubleOptIn })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deleteAudienceRow(db: Db, workspaceId: string, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const res = await db.deleteFrom('audiences').where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

export interface Membership {
  audience_id: string;
  audience_name: string;
  status: MembershipStatus;
  subscribed_at: Date | null;
  unsubscribed_at: Date | null;
  created_at: Date;
}

/** A contact's audiences; a contact is in few of them, so no page is needed (capped all the same). */
export function membershipsOf(db: Db | Tx, contactId: string): Promise<Membership[]> {
  return db
    .selectFrom('audience_members as m')
    .innerJoin('audiences as a', 'a.id', 'm.audience_id')
    .select(['m.audience_id', 'a.name as audience_name', 'm.status', 'm.subscribed_at', 'm.unsubscribed_at', 'm.created_at'])
    .where('m.contact_id', '=', contactId)
    .orderBy('m.created_at')
    .limit(1000)
    .execute();
}

/**
 * Sets the contact's state in the audience, adding the membership when there is none. Returns the state
 * before (undefined when it was not a member), so the caller can tell whether anything changed.
 */
export async function setMembership(trx: Tx, audienceId: string, contactId: string, status: MembershipStatus): Promise<MembershipStatus | undefined> {
  const before = await trx
    .selectFrom('audience_members')
    .select('status')
    .where('audience_id', '=', audienceId)
    .where('contact_id', '=', contactId)
    .forUpdate()
    .executeTakeFirst();
  if (before?.status === status) return status;
  const now = new Date();
  const stamps = status === 'subscribed' ? { subscribed_at: now } : status === 'unsubscribed' ? { unsubscribed_at: now } : {};
  if (before) {
    await trx
      .updateTable('audience_members')
      .set({ status, ...stamps, updated_at: now })
      .where('audience_id', '=', audienceId)
      .where('contact_id', '=', contactId)
      .execute();
  } else {
    await trx.insertInto('audience_members').values({ audience_id: audienceId, contact_id: contactId, status, ...stamps }).execute();
  }
  return before?.status;
}

/** The contact's membership in the audience, locked for the rest of the transaction; undefined when it is not a member. */
export function lockMembership(trx: Tx, audienceId: string, contactId: string): Promise<{ status: MembershipStatus; updated_at: Date } | undefined> {
  return trx
    .selectFrom('audience_members')
    .select(['status', 'updated_at'])
    .where('audience_id', '=', audienceId)
    .where('contact_id', '=', contactId)
    .forUpdate()
    .executeTakeFirst();
}

/** Marks a pending membership as just asked again (the subscribe form spaces its confirmation emails by this). */
export async function touchMembership(trx: Tx, audienceId: string, contactId: string): Promise<void> {
  await trx.updateTable('audience_members').set({ updated_at: new Date() }).where('audience_id', '=', audienceId).where('contact_id', '=', contactId).execute();
}

/** Adds the contact to the audience as subscribed unless it is a member already, whatever its state there. */
export async function joinAudience(trx: Tx, audienceId: string, contactId: string): Promise<boolean> {
  const res = await trx
    .insertInto('audience_members')
    .values({ audience_id: audienceId, contact_id: contactId, status: 'subscribed', subscribed_at: new Date() })
    .onConflict((oc) => oc.columns(['audience_id', 'contact_id']).doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0n) > 0;
}

export interface ContactEvent {
  workspaceId: string;
  contactId: string;
  audienceId?: string | null;
  type: ContactEventType;
  data?: Record<string, unknown>;
}

/** Written in the transaction of the change it tells of (the outbox webhooks read). */
export async function recordContactEvents(trx: Tx, events: readonly ContactEvent[]): Promise<void> {
  if (events.length === 0) return;
  await trx
    .insertInto('contact_events')
    .values(
      events.map((e) => ({
        workspace_id: e.workspaceId,
        contact_id: e.contactId,
        audience_id: e.audienceId ?? null,
        type: e.type,
        data: JSON.stringify(e.data ?? {}),
      })),
    )
    .execute();
}

/** The workspace's contact count (get-contacts without an audience); counted, so always exact. */
export async function countContacts(db: Db, workspaceId: string): Promise<number> {
  const row = await db.selectFrom('contacts').select(sql<number>`count(*)::int`.as('n')).where('workspace_id', '=', workspaceId).executeTakeFirstOrThrow();
  return row.n;
}
