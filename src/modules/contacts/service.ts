import { sql } from 'kysely';
import { inTransaction, type Db, type Tx } from '../../platform/db/database.js';
import type { ContactRow, MembershipStatus } from '../../platform/db/schema.js';
import { ApiError, notFound } from '../../platform/http/errors.js';
import {
  countContacts,
  deleteContactRow,
  findAudience,
  findContactByEmail,
  findContactById,
  insertContact,
  joinAudience,
  lockContact,
  lockMembership,
  membershipsOf,
  recordContactEvents,
  setMembership,
  touchMembership,
  updateContactColumns,
  type ContactEvent,
  type Membership,
  type ProfileColumns,
} from './store.js';

/** How get, update and delete name a contact: `?id=` or `?email=` (spec §4.2, §4.4, §4.5). */
/** What an automation's action step may change on a contact (ContactService.applyStepChange). */
export type ContactStepChange =
  | { kind: 'add_tag' | 'remove_tag'; tag: string }
  | { kind: 'update_field'; field: string; value: string | number | boolean | null }
  | { kind: 'subscribe' | 'unsubscribe'; audienceId: string };

export type ContactSelector = { id: string } | { email: string };

/** A profile change as the service takes it: absent fields stay; `custom_fields` merges, a null value removes a key. */
export interface ContactInput {
  profile: ProfileColumns;
  /** also add the contact to this audience (or, with `subscription`, set its state there) */
  audienceId?: string;
}

export interface ContactUpdate extends ContactInput {
  email?: string;
  /** the contact's state in `audienceId` */
  subscription?: 'subscribed' | 'unsubscribed';
  /** the global status: `blocked` blocks by hand, `subscribed` lifts any block */
  status?: 'subscribed' | 'blocked';
}

export const CONTACT_SORT_KEYS = ['firstName', 'lastName', 'email', 'createdAt', 'deliverabilityScore'] as const;
export type ContactSortKey = (typeof CONTACT_SORT_KEYS)[number];
const SORT_COLUMNS = {
  firstName: 'c.first_name',
  lastName: 'c.last_name',
  email: 'c.email_key',
  createdAt: 'c.created_at',
  deliverabilityScore: 'c.deliverability_score',
} as const satisfies Record<ContactSortKey, string>;

export interface ContactListQuery {
  audienceId?: string;
  page: number;
  limit: number;
  sortBy: ContactSortKey;
  sortDir: 'asc' | 'desc';
  subscribedOnly: boolean;
}

/** A list item: the contact, and its state in the audience listed (when one is). */
export interface ContactListItem extends ContactRow {
  membership_status: MembershipStatus | null;
}

export interface ContactDetail extends ContactRow {
  audiences: Membership[];
}

const PROFILE_KEYS = ['first_name', 'last_name', 'company_name', 'job_title', 'phone'] as const;

/** The columns that a change really alters, so an unchanged repeat writes nothing and tells of nothing. */
function changedColumns(row: ContactRow, profile: ProfileColumns, email?: string): ProfileColumns & { email?: string } {
  const out: ProfileColumns & { email?: string } = {};
  if (email !== undefined && email !== row.email) out.email = email;
  for (const key of PROFILE_KEYS) {
    const value = profile[key];
    if (value !== undefined && value !== row[key]) out[key] = value;
  }
  if (profile.tags && (profile.tags.length !== row.tags.length || profile.tags.some((t, i) => t !== row.tags[i]))) out.tags = profile.tags;
  if (profile.custom_fields) {
    const merged: Record<string, unknown> = { ...row.custom_fields };
    for (const [key, value] of Object.entries(profile.custom_fields)) {
      if (value === null) delete merged[key];
      else merged[key] = value;
    }
    if (JSON.stringify(merged) !== JSON.stringify(row.custom_fields)) out.custom_fields = merged;
  }
  return out;
}

/**
 * What a subscribe-form submission did. `confirm`: the membership is pending and a confirmation email is due to
 * the address; `none`: nothing changed (already subscribed, blocked, or a confirmation went out recently).
 */
export type FormSubscribeOutcome = { result: 'subscribed' | 'confirm'; contactId: string } | { result: 'none' };

/** What a confirmation link did: `confirmed` now, `already` subscribed before, or `invalid` (nothing pending, contact blocked or gone). */
export type ConfirmOutcome = 'confirmed' | 'already' | 'invalid';

/** The source the form's contact events name. */
const FORM_SOURCE = 'subscribe form';

/** Custom fields as stored on creation: a null value means "no such field". */
function withoutNulls(fields: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  return fields && Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null));
}

/**
 * Contacts of a workspace and their audience memberships (spec §4). Every change writes its contact events in
 * its own transaction (store.ts, recordContactEvents).
 */
export class ContactService {
  constructor(private readonly db: Db) {}

  private async audienceOrThrow(db: Db | Tx, workspaceId: string, audienceId: string): Promise<void> {
    if (!(await findAudience(db, workspaceId, audienceId))) throw notFound('Audience');
  }

  /** add-contact: reuses the contact with this address (changing the fields given) and adds it to the audience. */
  async add(workspaceId: string, email: string, input: ContactInput): Promise<{ contact: ContactRow; created: boolean }> {
    if (input.audienceId) await this.audienceOrThrow(this.db, workspaceId, input.audienceId);
    return inTransaction(this.db, async (trx) => {
      const events: ContactEvent[] = [];
      let contact = await lockContact(trx, workspaceId, { email });
      let created = false;
      if (!contact) {
        contact = await insertContact(trx, workspaceId, email, { ...input.profile, custom_fields: withoutNulls(input.profile.custom_fields) });
        if (contact) {
          created = true;
          events.push({ workspaceId, contactId: contact.id, type: 'contact.created', data: { email: contact.email } });
        } else {
          // another request added the address between our look and our insert: theirs is reused like any other
          contact = await lockContact(trx, workspaceId, { email });
          if (!contact) throw new ApiError('CONFLICT', 'The contact changed while it was being added; try again');
        }
      }
      if (!created) {
        const changes = changedColumns(contact, input.profile);
        if (Object.keys(changes).length > 0) {
          contact = await updateContactColumns(trx, contact.id, changes);
          events.push({ workspaceId, contactId: contact.id, type: 'contact.updated', data: { fields: Object.keys(changes) } });
        }
      }
      if (input.audienceId && (await joinAudience(trx, input.audienceId, contact.id))) {
        events.push({ workspaceId, contactId: contact.id, audienceId: input.audienceId, type: 'contact.subscribed', data: { source: 'api' } });
      }
      await recordContactEvents(trx, events);
      return { contact, created };
    }).catch(audienceGone);
  }

  async get(workspaceId: string, selector: ContactSelector): Promise<ContactDetail> {
    const contact = await this.find(workspaceId, selector);
    return { ...contact, audiences: await membershipsOf(this.db, contact.id) };
  }

  /** The contact alone, without its audiences: one query, for callers that need only the contact (enrolling it). */
  async find(workspaceId: string, selector: ContactSelector): Promise<ContactRow> {
    const contact = 'id' in selector ? await findContactById(this.db, workspaceId, selector.id) : await findContactByEmail(this.db, workspaceId, selector.email);
    if (!contact) throw notFound('Contact');
    return contact;
  }

  async update(workspaceId: string, selector: ContactSelector, input: ContactUpdate): Promise<ContactRow> {
    if (input.audienceId) await this.audienceOrThrow(this.db, workspaceId, input.audienceId);
    if (input.subscription && !input.audienceId) {
      throw new ApiError('VALIDATION_ERROR', "Field 'audience_id' is required to change a contact's subscription to an audience");
    }
    const conflict = new ApiError('CONFLICT', `Another contact has the address ${JSON.stringify(input.email)}`);
    return inTransaction(this.db, async (trx) => {
      let contact = await lockContact(trx, workspaceId, selector);
      if (!contact) throw notFound('Contact');
      const events: ContactEvent[] = [];
      const changes = changedColumns(contact, input.profile, input.email);
      if (changes.email !== undefined) {
        const other = await findContactByEmail(trx, workspaceId, changes.email);
        if (other && other.id !== contact.id) throw conflict;
      }
      if (Object.keys(changes).length > 0) {
        contact = await updateContactColumns(trx, contact.id, changes);
        events.push({ workspaceId, contactId: contact.id, type: 'contact.updated', data: { fields: Object.keys(changes) } });
      }
      if (input.status && input.status !== contact.status) {
        contact = await this.setGlobalStatus(trx, contact.id, input.status === 'blocked' ? 'manual' : null);
        events.push({ workspaceId, contactId: contact.id, type: 'contact.updated', data: { fields: ['status'] } });
      }
      if (input.audienceId) {
        const target = input.subscription ?? 'subscribed';
        const before = input.subscription ? await setMembership(trx, input.audienceId, contact.id, target) : (await joinAudience(trx, input.audienceId, contact.id)) ? undefined : target;
        if (before !== target) events.push(subscriptionEvent(workspaceId, contact.id, input.audienceId, target, 'api'));
      }
      await recordContactEvents(trx, events);
      return contact;
    }).catch((err: unknown) => {
      // a concurrent add took the new address between our look and our write (the unique index refused it)
      throw input.email !== undefined && (err as { code?: unknown }).code === '23505' ? conflict : err;
    }).catch(audienceGone);
  }

  private setGlobalStatus(trx: Tx, contactId: string, blockedReason: 'manual' | 'hard_bounce' | 'complaint' | null): Promise<ContactRow> {
    return trx
      .updateTable('contacts')
      .set(blockedReason ? { status: 'blocked', blocked_reason: blockedReason, blocked_at: new Date(), updated_at: new Date() } : { status: 'subscribed', blocked_reason: null, blocked_at: null, updated_at: new Date() })
      .where('id', '=', contactId)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /**
   * One change an automation's action step makes (modules/automations), in the engine's transaction so the step
   * and its contact event commit together; the same events as the API's changes. `unchanged` when there was
   * nothing to do, `missing` when the contact or the audience is not there.
   */
  async applyStepChange(trx: Tx, workspaceId: string, contactId: string, change: ContactStepChange, source: string): Promise<'changed' | 'unchanged' | 'missing'> {
    const contact = await lockContact(trx, workspaceId, { id: contactId });
    if (!contact) return 'missing';
    if ('audienceId' in change) {
      if (!(await findAudience(trx, workspaceId, change.audienceId))) return 'missing';
      const status = change.kind === 'subscribe' ? 'subscribed' : 'unsubscribed';
      const before = await setMembership(trx, change.audienceId, contactId, status);
      if (before === status) return 'unchanged';
      await recordContactEvents(trx, [subscriptionEvent(workspaceId, contactId, change.audienceId, status, source)]);
      return 'changed';
    }
    const profile: ProfileColumns = {};
    if (change.kind === 'update_field') {
      if ((PROFILE_KEYS as readonly string[]).includes(change.field)) (profile as Record<string, string | null>)[change.field] = change.value === null ? null : String(change.value);
      else profile.custom_fields = { [change.field]: change.value };
    } else if (change.kind === 'add_tag') profile.tags = contact.tags.includes(change.tag) ? contact.tags : [...contact.tags, change.tag];
    else if ('tag' in change) profile.tags = contact.tags.filter((t) => t !== change.tag);
    const changes = changedColumns(contact, profile);
    if (Object.keys(changes).length === 0) return 'unchanged';
    await updateContactColumns(trx, contact.id, changes);
    await recordContactEvents(trx, [{ workspaceId, contactId, type: 'contact.updated', data: { fields: Object.keys(changes), source } }]);
    return 'changed';
  }

  /** delete-contact: the only way a contact goes (its memberships go with it, and the audience counts follow). */
  async delete(workspaceId: string, selector: ContactSelector): Promise<ContactRow> {
    return inTransaction(this.db, async (trx) => {
      const contact = await lockContact(trx, workspaceId, selector);
      if (!contact) throw notFound('Contact');
      await deleteContactRow(trx, contact.id);
      await recordContactEvents(trx, [{ workspaceId, contactId: contact.id, type: 'contact.deleted', data: { email: contact.email } }]);
      return contact;
    });
  }

  /**
   * Sets a contact's state in one audience (the hosted subscribe form, its confirmation link, unsubscribe
   * links); no other audience is touched. Returns false when the contact or the audience is not there.
   */
  async setSubscription(workspaceId: string, contactId: string, audienceId: string, status: MembershipStatus, source: string): Promise<boolean> {
    return inTransaction(this.db, async (trx) => {
      const contact = await lockContact(trx, workspaceId, { id: contactId });
      if (!contact || !(await findAudience(trx, workspaceId, audienceId))) return false;
      const before = await setMembership(trx, audienceId, contactId, status);
      if (before !== status && status !== 'pending') await recordContactEvents(trx, [subscriptionEvent(workspaceId, contactId, audienceId, status, source)]);
      return true;
    });
  }

  /**
   * An email's unsubscribe link (or its resubscribe link) for a member of the audience the email went to
   * (README, "Unsubscribe and the suppression list"): the membership moves between `subscribed` and
   * `unsubscribed`, with its contact event, and no other audience is touched. `not-member` when the address is
   * no contact of the workspace or not in that audience (the caller falls back to the suppression list);
   * `unchanged` when the membership already was in that state (or is pending, which only its own link confirms).
   */
  async setSubscriptionByEmail(
    workspaceId: string,
    email: string,
    audienceId: string,
    status: 'subscribed' | 'unsubscribed',
    source: string,
  ): Promise<'changed' | 'unchanged' | 'not-member'> {
    return inTransaction(this.db, async (trx) => {
      const contact = await lockContact(trx, workspaceId, { email });
      const member = contact && (await lockMembership(trx, audienceId, contact.id));
      if (!contact || !member) return 'not-member';
      if (member.status === status || member.status === 'pending') return 'unchanged';
      await setMembership(trx, audienceId, contact.id, status);
      await recordContactEvents(trx, [subscriptionEvent(workspaceId, contact.id, audienceId, status, source)]);
      return 'changed';
    });
  }

  /**
   * The hosted subscribe form (README, "Hosted subscribe page"), in one transaction. The form is public, so it
   * never changes what a stranger should not: the name is stored only on a contact it creates, a globally
   * blocked contact stays blocked and joins nothing, and an existing contact's profile is left as it is. With
   * double opt-in the membership is `pending` and no `contact.subscribed` is written until the click
   * (confirmPending); a pending membership asks again only after `resendAfterMs`, so the form cannot be used to
   * flood an address with confirmation emails.
   */
  async subscribeThroughForm(
    workspaceId: string,
    audienceId: string,
    email: string,
    input: { profile: Pick<ProfileColumns, 'first_name' | 'last_name'>; doubleOptIn: boolean; resendAfterMs: number },
  ): Promise<FormSubscribeOutcome> {
    return inTransaction(this.db, async (trx) => {
      if (!(await findAudience(trx, workspaceId, audienceId))) return { result: 'none' };
      const events: ContactEvent[] = [];
      let contact = await lockContact(trx, workspaceId, { email });
      if (!contact) {
        contact = await insertContact(trx, workspaceId, email, input.profile);
        if (contact) events.push({ workspaceId, contactId: contact.id, type: 'contact.created', data: { email: contact.email, source: FORM_SOURCE } });
        // another request added the address between our look and our insert: use theirs
        else contact = await lockContact(trx, workspaceId, { email });
        if (!contact) throw new ApiError('CONFLICT', 'The contact changed while it was being added; try again');
      }
      let outcome: FormSubscribeOutcome = { result: 'none' };
      const member = await lockMembership(trx, audienceId, contact.id);
      if (contact.status === 'blocked' || member?.status === 'subscribed') {
        // nothing to do: the answer is the same either way, so the form tells a stranger nothing about the address
      } else if (!input.doubleOptIn) {
        await setMembership(trx, audienceId, contact.id, 'subscribed');
        events.push(subscriptionEvent(workspaceId, contact.id, audienceId, 'subscribed', FORM_SOURCE));
        outcome = { result: 'subscribed', contactId: contact.id };
      } else if (member?.status !== 'pending') {
        await setMembership(trx, audienceId, contact.id, 'pending');
        outcome = { result: 'confirm', contactId: contact.id };
      } else if (member.updated_at.getTime() <= Date.now() - input.resendAfterMs) {
        await touchMembership(trx, audienceId, contact.id);
        outcome = { result: 'confirm', contactId: contact.id };
      }
      await recordContactEvents(trx, events);
      return outcome;
    });
  }

  /** The click on a double opt-in confirmation link: a pending membership becomes `subscribed` (and only then tells of it). */
  async confirmPending(workspaceId: string, audienceId: string, contactId: string): Promise<ConfirmOutcome> {
    return inTransaction(this.db, async (trx) => {
      const contact = await lockContact(trx, workspaceId, { id: contactId });
      if (!contact || contact.status === 'blocked' || !(await findAudience(trx, workspaceId, audienceId))) return 'invalid';
      const member = await lockMembership(trx, audienceId, contactId);
      if (member?.status === 'subscribed') return 'already';
      // an unsubscribe after the request wins over an old link
      if (member?.status !== 'pending') return 'invalid';
      await setMembership(trx, audienceId, contactId, 'subscribed');
      await recordContactEvents(trx, [subscriptionEvent(workspaceId, contactId, audienceId, 'subscribed', `${FORM_SOURCE} (confirmed)`)]);
      return 'confirmed';
    });
  }

  /** get-contacts: one page by offset (the API's `page`), with the total for `totalPages`. */
  async list(workspaceId: string, q: ContactListQuery): Promise<{ contacts: ContactListItem[]; total: number }> {
    if (q.audienceId) await this.audienceOrThrow(this.db, workspaceId, q.audienceId);
    const column = SORT_COLUMNS[q.sortBy];
    if (!q.audienceId) {
      let base = this.db.selectFrom('contacts as c').where('c.workspace_id', '=', workspaceId);
      if (q.subscribedOnly) base = base.where('c.status', '=', 'subscribed');
      const [contacts, total] = await Promise.all([
        base
          .selectAll('c')
          .select(sql<null>`null`.as('membership_status'))
          .orderBy(column, q.sortDir)
          .orderBy('c.id', q.sortDir)
          .limit(q.limit)
          .offset((q.page - 1) * q.limit)
          .execute(),
        q.subscribedOnly ? base.select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow().then((r) => r.n) : countContacts(this.db, workspaceId),
      ]);
      return { contacts, total };
    }
    let base = this.db
      .selectFrom('audience_members as m')
      .innerJoin('contacts as c', 'c.id', 'm.contact_id')
      .where('m.audience_id', '=', q.audienceId)
      .where('c.workspace_id', '=', workspaceId);
    if (q.subscribedOnly) base = base.where('m.status', '=', 'subscribed').where('c.status', '=', 'subscribed');
    const [contacts, counted] = await Promise.all([
      base
        .selectAll('c')
        .select('m.status as membership_status')
        .orderBy(column, q.sortDir)
        .orderBy('c.id', q.sortDir)
        .limit(q.limit)
        .offset((q.page - 1) * q.limit)
        .execute(),
      base.select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow(),
    ]);
    return { contacts, total: counted.n };
  }
}

/** The audience was checked, then deleted by a concurrent request before the membership was written (its foreign key refused it). */
function audienceGone(err: unknown): never {
  throw (err as { code?: unknown }).code === '23503' ? notFound('Audience') : err;
}

function subscriptionEvent(workspaceId: string, contactId: string, audienceId: string, status: MembershipStatus, source: string): ContactEvent {
  return { workspaceId, contactId, audienceId, type: status === 'subscribed' ? 'contact.subscribed' : 'contact.unsubscribed', data: { source } };
}
