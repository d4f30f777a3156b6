import { sql, type ExpressionBuilder } from 'kysely';
import { addressWithinDomain } from '../../platform/db/address-domain.js';
import type { Db } from '../../platform/db/database.js';
import type { DB, MessageEventRow, MessageRecipientRow, MessageRow } from '../../platform/db/schema.js';
import { RECIPIENT_STATUSES, type EmailEventType, type EmailStatus, type RecipientStatus } from '../../platform/lifecycle.js';

export type EmailRow = Omit<MessageRow, 'html' | 'text_body' | 'attachments' | 'audience_id' | 'tracked_links' | 'bot_open_count' | 'bot_click_count'>;

/** What get-email and list items show of tracking (README, "Tracking"): the flags, the first times, the counts of people. */
const TRACKING_COLUMNS = ['track_opens', 'track_clicks', 'opened_at', 'clicked_at', 'open_count', 'click_count'] as const;

const COLUMNS = [
  'id', 'workspace_id', 'api_key_id', 'tier', 'priority', 'status', 'from_email', 'from_name', 'reply_to', 'subject',
  'headers', 'metadata', 'tags', 'message_id_header', 'recipients_count', 'attempts', 'max_attempts', 'next_attempt_at',
  'locked_by', 'transport', 'last_error', 'created_at', 'updated_at', 'sent_at', 'delivered_at', 'failed_at',
  'template_id', 'template_version', 'scheduled_at', 'timezone', ...TRACKING_COLUMNS,
] as const;

/**
 * A list item: no metadata, reply_to or headers (get-email has them) and free text clipped, so a page of 200
 * stays a few MB whatever an email holds, rows stored before the send limits included.
 */
export type EmailSummaryRow = Omit<EmailRow, 'metadata' | 'reply_to' | 'headers'>;

const LIST_TEXT_CHARS = 1_000;
const LIST_NAME_CHARS = 200;
const LIST_TAGS_BYTES = 4_096;

const SUMMARY_COLUMNS = [
  'id', 'workspace_id', 'api_key_id', 'tier', 'priority', 'status', 'from_email', 'message_id_header', 'recipients_count',
  'attempts', 'max_attempts', 'next_attempt_at', 'locked_by', 'transport', 'created_at', 'updated_at', 'sent_at',
  'delivered_at', 'failed_at', 'template_id', 'template_version', 'scheduled_at', 'timezone', ...TRACKING_COLUMNS,
  sql<string>`left(subject, ${sql.lit(LIST_TEXT_CHARS)})`.as('subject'),
  sql<string | null>`left(from_name, ${sql.lit(LIST_NAME_CHARS)})`.as('from_name'),
  sql<string | null>`left(last_error, ${sql.lit(LIST_TEXT_CHARS)})`.as('last_error'),
  // tags are at most 20 × 100 characters since the send limits; an older, larger list is left out of list items
  sql<string[]>`CASE WHEN octet_length(tags::text) <= ${sql.lit(LIST_TAGS_BYTES)} THEN tags ELSE '[]'::jsonb END`.as('tags'),
] as const;

/** Whose emails a query may see: the workspace's, or only those sent from one domain (a domain-tied key). */
export interface EmailScope {
  workspaceId: string;
  senderDomain: string | null;
}

export function findEmail(db: Db, scope: EmailScope, id: string): Promise<EmailRow | undefined> {
  let q = db.selectFrom('messages').select(COLUMNS).where('workspace_id', '=', scope.workspaceId).where('id', '=', id);
  if (scope.senderDomain !== null) q = q.where(addressWithinDomain('from_email', scope.senderDomain));
  return q.executeTakeFirst();
}

export interface EmailFilter {
  workspaceId: string;
  senderDomain: string | null;
  statuses?: EmailStatus[];
  recipient?: string;
  since?: Date;
  until?: Date;
  before?: { createdAt: Date; id: string };
  limit: number;
}

export function listEmails(db: Db, f: EmailFilter): Promise<EmailSummaryRow[]> {
  let q = db.selectFrom('messages').select(SUMMARY_COLUMNS).where('workspace_id', '=', f.workspaceId);
  if (f.senderDomain !== null) q = q.where(addressWithinDomain('from_email', f.senderDomain));
  if (f.statuses?.length) q = q.where(withStatus(f.statuses));
  if (f.since) q = q.where('created_at', '>=', f.since);
  if (f.until) q = q.where('created_at', '<', f.until);
  if (f.recipient) {
    const email = f.recipient.toLowerCase();
    q = q.where((eb) =>
      eb.exists(eb.selectFrom('message_recipients as r').select('r.position').whereRef('r.message_id', '=', 'messages.id').where(sql<string>`lower(r.email)`, '=', email)),
    );
  }
  if (f.before) {
    const b = f.before;
    q = q.where((eb) => eb.or([eb('created_at', '<', b.createdAt), eb.and([eb('created_at', '=', b.createdAt), eb('id', '<', b.id)])]));
  }
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit).execute();
}

/**
 * An email matches a status it has, or one any of its recipients reached (a `sent` email whose one recipient
 * bounced is found by `bounced`). The workspace's newest-first index drives the scan and the page stops at its
 * limit; recipients that did not get through come from a small partial index (migrations 005 and 010), accepted ones are
 * probed by the recipients' primary key (message_id leads it). Measured on PostgreSQL with 600,000 recipients:
 * `status=bounced` reads 666 index entries instead of every recipient (1.4 ms against 128 ms).
 */
function withStatus(statuses: EmailStatus[]) {
  const ofRecipients = statuses.filter(isRecipientStatus);
  return (eb: ExpressionBuilder<DB, 'messages'>) =>
    ofRecipients.length === 0
      ? eb('messages.status', 'in', statuses)
      : eb.or([
          eb('messages.status', 'in', statuses),
          eb.exists(eb.selectFrom('message_recipients as r').select('r.position').whereRef('r.message_id', '=', 'messages.id').where('r.status', 'in', ofRecipients)),
        ]);
}

const isRecipientStatus = (s: EmailStatus): s is Extract<EmailStatus, RecipientStatus> => (RECIPIENT_STATUSES as readonly string[]).includes(s);

export function recipientsOf(db: Db, ids: string[]): Promise<MessageRecipientRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db.selectFrom('message_recipients').selectAll().where('message_id', 'in', ids).orderBy('message_id').orderBy('position').execute();
}

/** Recipients for list items, their free text clipped like the rest of the item. */
export function recipientSummariesOf(db: Db, ids: string[]): Promise<MessageRecipientRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('message_recipients')
    .select([
      'message_id', 'position', 'kind', 'email', 'status', 'smtp_code', 'updated_at', 'bounce_type',
      sql<string | null>`left(name, ${sql.lit(LIST_NAME_CHARS)})`.as('name'),
      sql<string | null>`left(smtp_response, ${sql.lit(LIST_TEXT_CHARS)})`.as('smtp_response'),
      sql<string | null>`left(bounce_reason, ${sql.lit(LIST_TEXT_CHARS)})`.as('bounce_reason'),
    ])
    .where('message_id', 'in', ids)
    .orderBy('message_id')
    .orderBy('position')
    .execute();
}

export function eventsOf(db: Db, id: string): Promise<MessageEventRow[]> {
  return db.selectFrom('message_events').selectAll().where('message_id', '=', id).orderBy('id').execute();
}

/** What a hosted page shows of an email. No workspace scope: the caller holds a token signed for this email. */
export type PageContent = Pick<MessageRow, 'id' | 'subject' | 'html' | 'text_body'>;

export function findPageContent(db: Db, id: string): Promise<PageContent | undefined> {
  return db.selectFrom('messages').select(['id', 'subject', 'html', 'text_body']).where('id', '=', id).executeTakeFirst();
}

/** What an unsubscribe link acts on. No workspace scope: the caller holds a token signed for this email. */
export interface UnsubscribeTarget {
  workspaceId: string;
  audienceId: string | null;
  /** the recipient at `position`, or without a position the only recipient; none for an email to several */
  recipient: { position: number; email: string } | null;
}

export async function findUnsubscribeTarget(db: Db, id: string, position: number | null): Promise<UnsubscribeTarget | undefined> {
  const message = await db.selectFrom('messages').select(['workspace_id', 'audience_id']).where('id', '=', id).executeTakeFirst();
  if (!message) return undefined;
  let q = db.selectFrom('message_recipients').select(['position', 'email']).where('message_id', '=', id);
  if (position !== null) q = q.where('position', '=', position);
  // two rows are enough to tell "the only recipient" from "one of several"
  const rows = await q.orderBy('position').limit(2).execute();
  return { workspaceId: message.workspace_id, audienceId: message.audience_id, recipient: rows.length === 1 ? rows[0]! : null };
}

/**
 * Adds an event to the email's timeline in one statement, once: when `recipient` already has one of this type
 * the timeline is left as it is. False when there is no such email or the entry was there.
 */
export async function insertEventOnce(db: Db, id: string, type: EmailEventType, recipient: string | null, detail: Record<string, unknown>): Promise<boolean> {
  const res = await sql`
    INSERT INTO message_events (message_id, type, recipient, detail)
    SELECT id, ${type}, ${recipient}, ${JSON.stringify(detail)}::jsonb FROM messages m
     WHERE id = ${id}
       AND NOT EXISTS (SELECT 1 FROM message_events e WHERE e.message_id = m.id AND e.type = ${type} AND e.recipient IS NOT DISTINCT FROM ${recipient})`.execute(db);
  return Number(res.numAffectedRows ?? 0) > 0;
}

/** Adds an event to the email's timeline in one statement; false when there is no such email. */
export async function insertEvent(db: Db, id: string, type: EmailEventType, recipient: string | null, detail: Record<string, unknown>): Promise<boolean> {
  const res = await sql`
    INSERT INTO message_events (message_id, type, recipient, detail)
    SELECT id, ${type}, ${recipient}, ${JSON.stringify(detail)}::jsonb FROM messages WHERE id = ${id}`.execute(db);
  return Number(res.numAffectedRows ?? 0) > 0;
}
