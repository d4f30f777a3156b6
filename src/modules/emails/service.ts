import type { Db } from '../../platform/db/database.js';
import type { MessageEventRow, MessageRecipientRow } from '../../platform/db/schema.js';
import { ApiError } from '../../platform/http/errors.js';
import type { Cursor } from '../../platform/http/cursor.js';
import { EMAIL_STATUSES, type EmailStatus, type RecipientStatus } from '../../platform/lifecycle.js';
import * as store from './store.js';

export { EMAIL_STATUSES } from '../../platform/lifecycle.js';

const isEmailStatus = (s: string): s is EmailStatus => (EMAIL_STATUSES as readonly string[]).includes(s);

const iso = (d: Date | null): string | null => d?.toISOString() ?? null;

/** A list item (GET /api/v1/emails): everything but metadata and reply_to, free text clipped by the store. */
export function emailSummaryView(e: store.EmailSummaryRow, recipients: MessageRecipientRow[]) {
  const of = (kind: string) => recipients.filter((r) => r.kind === kind).map((r) => r.email);
  // the email's bounce is its first bounced (or failed) recipient's, in recipient order; each recipient has its own
  const bounce = recipients.find((r) => r.bounce_type !== null);
  return {
    id: e.id,
    object: 'email',
    status: e.status,
    priority: e.tier,
    from: e.from_email,
    from_name: e.from_name,
    to: of('to'),
    cc: of('cc'),
    bcc: of('bcc'),
    subject: e.subject,
    message_id: e.message_id_header,
    created_at: iso(e.created_at),
    sent_at: iso(e.sent_at),
    delivered_at: iso(e.delivered_at),
    failed_at: iso(e.failed_at),
    scheduled_at: iso(e.scheduled_at),
    timezone: e.timezone,
    template_id: e.template_id,
    template_version: e.template_version,
    attempts: e.attempts,
    max_attempts: e.max_attempts,
    next_attempt_at: e.status === 'sending' ? null : iso(e.next_attempt_at),
    transport: e.transport,
    last_error: e.last_error,
    recipients_count: e.recipients_count,
    bounce_type: bounce?.bounce_type ?? null,
    bounce_reason: bounce?.bounce_reason ?? null,
    recipients: recipients.map((r) => ({
      email: r.email,
      name: r.name,
      type: r.kind,
      status: r.status,
      smtp_code: r.smtp_code,
      smtp_response: r.smtp_response,
      bounce_type: r.bounce_type,
      bounce_reason: r.bounce_reason,
    })),
    recipient_counts: countByStatus(recipients),
    tags: e.tags,
    track_opens: e.track_opens,
    track_clicks: e.track_clicks,
    opened_at: iso(e.opened_at),
    clicked_at: iso(e.clicked_at),
    open_count: e.open_count,
    click_count: e.click_count,
  };
}

/** How many recipients are in each status, only the statuses present: `{ delivered: 2, bounced: 1 }`. */
function countByStatus(recipients: Pick<MessageRecipientRow, 'status'>[]): Partial<Record<RecipientStatus, number>> {
  const counts: Partial<Record<RecipientStatus, number>> = {};
  for (const r of recipients) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

/** One email in full (get-email). */
export function emailView(e: store.EmailRow, recipients: MessageRecipientRow[]) {
  return { ...emailSummaryView(e, recipients), reply_to: e.reply_to.map((a) => a.email), metadata: e.metadata };
}

function eventView(ev: MessageEventRow) {
  return {
    type: ev.type,
    at: ev.created_at.toISOString(),
    recipient: ev.recipient,
    attempt: ev.attempt,
    smtp_host: ev.smtp_host,
    smtp_code: ev.smtp_code,
    smtp_response: ev.smtp_response,
    detail: ev.detail,
  };
}

export type EmailView = ReturnType<typeof emailView>;

export type PageContent = store.PageContent;
export type UnsubscribeTarget = store.UnsubscribeTarget;

export class EmailService {
  constructor(private readonly db: Db) {}

  /** The email behind a signed hosted-page link (the link is the permission, so no workspace scope). */
  pageContent(id: string): Promise<PageContent | undefined> {
    return store.findPageContent(this.db, id);
  }

  /** What an unsubscribe link for this email (and recipient position) acts on; undefined when the email is gone. */
  unsubscribeTarget(id: string, position: number | null): Promise<UnsubscribeTarget | undefined> {
    return store.findUnsubscribeTarget(this.db, id, position);
  }

  /**
   * Records an unsubscribe (or resubscribe) on the email's timeline. `once`: not when the recipient (or the
   * email, for null) has such an entry already, so a repeated request writes nothing.
   */
  recordSubscriptionEvent(id: string, type: 'unsubscribed' | 'resubscribed', recipient: string | null, detail: Record<string, unknown>, o: { once: boolean }): Promise<boolean> {
    return o.once ? store.insertEventOnce(this.db, id, type, recipient, detail) : store.insertEvent(this.db, id, type, recipient, detail);
  }

  async get(scope: store.EmailScope, id: string) {
    const row = await store.findEmail(this.db, scope, id);
    if (!row) throw new ApiError('NOT_FOUND', `Email ${id} not found`);
    const [recipients, events] = await Promise.all([store.recipientsOf(this.db, [id]), store.eventsOf(this.db, id)]);
    return { ...emailView(row, recipients), events: events.map(eventView) };
  }

  /** `statuses` matches an email's own status or any of its recipients' (store.listEmails); the route refuses words outside the vocabulary. */
  async list(filter: Omit<store.EmailFilter, 'limit' | 'before' | 'statuses'> & { statuses?: readonly string[]; limit: number; cursor?: Cursor }) {
    const { statuses, ...rest } = filter;
    const known = statuses?.filter(isEmailStatus);
    const rows = await store.listEmails(this.db, {
      ...rest,
      ...(known ? { statuses: known } : {}),
      limit: filter.limit + 1,
      ...(filter.cursor ? { before: filter.cursor } : {}),
    });
    const page = rows.slice(0, filter.limit);
    const recipients = await store.recipientSummariesOf(this.db, page.map((r) => r.id));
    const emails = page.map((r) => emailSummaryView(r, recipients.filter((x) => x.message_id === r.id)));
    const last = page[page.length - 1];
    return { emails, hasMore: rows.length > filter.limit, last: last ? { createdAt: last.created_at, id: last.id } : undefined };
  }
}
