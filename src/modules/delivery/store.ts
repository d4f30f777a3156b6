import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import { countWithinParamBudget } from '../../platform/db/param-budget.js';
import type { MessageRecipientRow, MessageRow, SuppressionReason } from '../../platform/db/schema.js';
import type { BounceClass, EmailEventType, EmailStatus, RecipientStatus } from '../../platform/lifecycle.js';
import { SOFT_BOUNCE_LIMIT } from '../suppressions/index.js';

/**
 * The recipients of the claimed message, in position order; only the fields delivery reads. `suppressed` is the
 * reason of the suppression that stops this attempt (null when there is none, and for recipients already done).
 */
export type ClaimedRecipient = Pick<MessageRecipientRow, 'message_id' | 'position' | 'kind' | 'email' | 'name' | 'status'> & { suppressed: SuppressionReason | null };
export type ClaimedMessage = MessageRow & { recipients: ClaimedRecipient[] };

/**
 * Claims due messages in strict priority order. The claim pushes next_attempt_at forward by the lease, so if
 * this process dies the message becomes claimable again by itself (at-least-once delivery).
 *
 * Each recipient still to attempt comes with the suppression that stops it, if any: an address suppressed for
 * `all` tiers, or for `bulk` when the email is bulk (migrations/010_suppressions.sql). Checked here, at each
 * attempt, so an unsubscribe made while the email waited in the queue still holds; one primary-key probe per
 * recipient inside the claim statement, no round trip of its own.
 */
export async function claimMessages(db: Db, opts: { workerId: string; limit: number; maxPriority: number; leaseMs: number }): Promise<ClaimedMessage[]> {
  const res = await sql<ClaimedMessage>`
    UPDATE messages m
       SET status = 'sending', attempts = m.attempts + 1, locked_by = ${opts.workerId},
           next_attempt_at = now() + make_interval(secs => ${opts.leaseMs / 1000}), updated_at = now()
      FROM (SELECT id FROM messages
             WHERE next_attempt_at <= now() AND priority <= ${opts.maxPriority}
             ORDER BY priority, next_attempt_at
             LIMIT ${opts.limit}
             FOR UPDATE SKIP LOCKED) due
     WHERE m.id = due.id
 RETURNING m.*,
           -- the recipients come with the claim: one round trip per batch instead of two
           (SELECT json_agg(json_build_object('message_id', r.message_id, 'position', r.position, 'kind', r.kind,
                                              'email', r.email, 'name', r.name, 'status', r.status,
                                              'suppressed', CASE WHEN r.status IN ('pending', 'deferred') THEN
                                                (SELECT s.reason FROM suppressions s
                                                  WHERE s.workspace_id = m.workspace_id AND s.email_key = lower(r.email)
                                                    AND (s.scope = 'all' OR (s.scope = 'bulk' AND m.tier = 'bulk'))
                                                  ORDER BY s.scope LIMIT 1) END) ORDER BY r.position)
              FROM message_recipients r WHERE r.message_id = m.id) AS recipients`.execute(db);
  return res.rows.map((row) => ({ ...row, recipients: row.recipients ?? [] }));
}

/**
 * Pushes the leases of a worker's in-flight messages forward in one statement. Fenced like completions:
 * only rows still claimed by this worker for this attempt are touched, so a message that was lost to
 * another worker (or already recorded) keeps its state.
 */
export async function renewMessageLeases(db: Db, opts: { workerId: string; held: { id: string; attempts: number }[]; leaseMs: number }): Promise<void> {
  if (opts.held.length === 0) return;
  await sql`
    UPDATE messages m
       SET next_attempt_at = now() + make_interval(secs => ${opts.leaseMs / 1000})
      FROM unnest(${opts.held.map((h) => h.id)}::text[], ${opts.held.map((h) => h.attempts)}::int[]) AS h(id, attempts)
     WHERE m.id = h.id AND m.attempts = h.attempts AND m.locked_by = ${opts.workerId}`.execute(db);
}

export interface RecipientResult {
  position: number;
  email: string;
  status: Exclude<RecipientStatus, 'pending'>;
  code: number | null;
  response: string;
  host: string | null;
  /** more for the recipient's timeline entry (a suppression's reason and scope, a bounce's class and reason) */
  detail?: Record<string, unknown>;
  /** a `bounced` or `failed` recipient's class (platform/mail/bounce-class.ts) and the answer it was read from */
  bounce?: { type: BounceClass; reason: string };
}

export interface AttemptCompletion {
  messageId: string;
  workerId: string;
  attempt: number;
  status: EmailStatus;
  nextAttemptAt: Date | null;
  transport: string;
  lastError: string | null;
  sentAt: Date | null;
  deliveredAt: Date | null;
  failedAt: Date | null;
  recipients: RecipientResult[];
  /** timeline entries beyond the per-recipient ones, e.g. "failed: retries exhausted" */
  events: { type: EmailEventType; detail: Record<string, unknown> }[];
}

// bind parameters each row of a completion statement uses
const MESSAGE_PARAMS = 10;
const RECIPIENT_PARAMS = 8;
const EVENT_PARAMS = 8;

/** How many of the pending completions fit in one statement (at most 500); every recipient result is also an event. */
export const completionsThatFit = (items: AttemptCompletion[]): number =>
  countWithinParamBudget(items, (c) => MESSAGE_PARAMS + c.recipients.length * (RECIPIENT_PARAMS + EVENT_PARAMS) + c.events.length * EVENT_PARAMS, 500);

/**
 * Records many attempts in one statement (its own transaction): the message updates, the recipients' results
 * and the timeline, so a batch costs one round trip. Each message update is fenced by (locked_by, attempts):
 * a worker whose lease expired and was re-claimed elsewhere cannot overwrite the newer attempt's state, and
 * its recipient results and events are dropped with it.
 */
export async function completeAttempts(db: Db, batch: AttemptCompletion[]): Promise<void> {
  if (batch.length === 0) return;
  const messageRows = batch.map(
    (c) => sql`(${c.messageId}::text, ${c.workerId}::text, ${c.attempt}::int, ${c.status}::text, ${c.nextAttemptAt}::timestamptz,
                ${c.transport}::text, ${c.lastError}::text, ${c.sentAt}::timestamptz, ${c.deliveredAt}::timestamptz, ${c.failedAt}::timestamptz)`,
  );
  // the contact key is JavaScript's lower case, as the contacts module keys them (suppressions/store.ts says why)
  const recipientRows = batch.flatMap((c) =>
    c.recipients.map(
      (r) => sql`(${c.messageId}::text, ${r.position}::smallint, ${r.status}::text, ${r.code}::int, ${r.response}::text,
                  ${r.bounce?.type ?? null}::text, ${r.bounce?.reason ?? null}::text, ${r.email.toLowerCase()}::text)`,
    ),
  );
  // a recipient's timeline entry is named by the status it reached (platform/lifecycle.ts): one vocabulary
  const eventRows = batch.flatMap((c) => [
    ...c.recipients.map(
      (r) =>
        sql`(${c.messageId}::text, ${r.status}::text, ${r.email}::text, ${c.attempt}::int, ${r.host}::text,
             ${r.code}::int, ${r.response}::text, ${JSON.stringify({ transport: c.transport, ...r.detail })}::jsonb)`,
    ),
    ...c.events.map((e) => sql`(${c.messageId}::text, ${e.type}::text, NULL::text, ${c.attempt}::int, NULL::text, NULL::int, NULL::text, ${JSON.stringify(e.detail)}::jsonb)`),
  ]);
  // data-modifying CTEs run exactly once whether or not the final statement reads them
  // The recipients' results, and what they do to the suppression list (README, "Bounces and the suppression
  // list"), in the same statement: a hard bounce suppresses the address for every tier and blocks its contact; a
  // soft one counts, and the SOFT_BOUNCE_LIMIT-th in a row suppresses; an accepted recipient resets its count.
  // Blocks and undetermined bounces change nothing. `settled` is read by several statements but computed once.
  const recipientsDone =
    recipientRows.length > 0
      ? sql`, r(message_id, position, status, code, response, bounce_type, bounce_reason, contact_key) AS (VALUES ${sql.join(recipientRows)}),
        recipients_done AS (
          UPDATE message_recipients mr
             SET status = r.status, smtp_code = r.code, smtp_response = r.response, updated_at = now(),
                 bounce_type = COALESCE(r.bounce_type, mr.bounce_type), bounce_reason = COALESCE(r.bounce_reason, mr.bounce_reason)
            FROM r
           WHERE mr.message_id = r.message_id AND mr.position = r.position AND r.message_id IN (SELECT id FROM owned)
       RETURNING mr.message_id, mr.email, r.status, r.bounce_type, r.contact_key),
        settled AS (
          SELECT o.workspace_id, d.message_id, d.email, lower(d.email) AS email_key, d.status, d.bounce_type, d.contact_key
            FROM recipients_done d JOIN owned o ON o.id = d.message_id),
        soft AS (
          INSERT INTO suppression_soft_counts AS sc (workspace_id, email_key, count)
          SELECT workspace_id, email_key, count(*) FROM settled WHERE bounce_type = 'soft' GROUP BY workspace_id, email_key
          ON CONFLICT (workspace_id, email_key) DO UPDATE SET count = sc.count + excluded.count, updated_at = now()
       RETURNING workspace_id, email_key, count),
        soft_reset AS (
          DELETE FROM suppression_soft_counts sc USING settled s
           WHERE s.status IN ('sent', 'delivered') AND sc.workspace_id = s.workspace_id AND sc.email_key = s.email_key),
        to_suppress AS (
          SELECT DISTINCT ON (s.workspace_id, s.email_key) s.workspace_id, s.email_key, s.email, s.contact_key, s.message_id,
                 CASE s.bounce_type WHEN 'hard' THEN 'hard_bounce' ELSE 'soft_bounce' END AS reason
            FROM settled s
           WHERE s.bounce_type = 'hard'
              OR (s.bounce_type = 'soft' AND EXISTS (SELECT 1 FROM soft WHERE soft.workspace_id = s.workspace_id
                                                        AND soft.email_key = s.email_key AND soft.count >= ${SOFT_BOUNCE_LIMIT}))
           ORDER BY s.workspace_id, s.email_key, s.bounce_type),
        suppressed AS (
          INSERT INTO suppressions (workspace_id, email_key, email, scope, reason, source_email_id)
          SELECT workspace_id, email_key, email, 'all', reason, message_id FROM to_suppress
          ON CONFLICT (workspace_id, email_key, scope) DO NOTHING),
        contacts_blocked AS (
          UPDATE contacts c SET status = 'blocked', blocked_reason = t.reason, blocked_at = now(), updated_at = now()
            FROM to_suppress t
           WHERE c.workspace_id = t.workspace_id AND c.email_key = t.contact_key AND c.status <> 'blocked')`
      : sql``;
  const final =
    eventRows.length > 0
      ? sql`INSERT INTO message_events (message_id, type, recipient, attempt, smtp_host, smtp_code, smtp_response, detail)
            SELECT e.* FROM (VALUES ${sql.join(eventRows)}) AS e(message_id, type, recipient, attempt, smtp_host, smtp_code, smtp_response, detail)
             WHERE e.message_id IN (SELECT id FROM owned)`
      : sql`SELECT count(*) FROM owned`;
  await sql`
    WITH v(id, worker_id, attempt, status, next_attempt_at, transport, last_error, sent_at, delivered_at, failed_at) AS (VALUES ${sql.join(messageRows)}),
    owned AS (
      UPDATE messages m
         SET status = v.status, next_attempt_at = v.next_attempt_at, locked_by = NULL, transport = v.transport,
             last_error = v.last_error, updated_at = now(),
             sent_at = COALESCE(m.sent_at, v.sent_at), delivered_at = COALESCE(m.delivered_at, v.delivered_at),
             failed_at = COALESCE(m.failed_at, v.failed_at)
        FROM v
       WHERE m.id = v.id AND m.locked_by = v.worker_id AND m.attempts = v.attempt
   RETURNING m.id, m.workspace_id)
    ${recipientsDone}
    ${final}`.execute(db);
}

/**
 * Embedded mode only: the data-folder lock proves no other process is delivering, so messages still marked
 * as being sent were interrupted by a crash and can be retried at once instead of waiting out their lease.
 */
export async function releaseOrphanedLeases(db: Db): Promise<number> {
  const res = await db
    .updateTable('messages')
    .set({ next_attempt_at: new Date(), locked_by: null })
    .where('status', '=', 'sending')
    .where('next_attempt_at', 'is not', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/** How many due messages of a tier the queue gauges count at most: the count stays bounded however long the queue. */
export const QUEUE_DEPTH_CAP = 100_000;

/**
 * Per tier: the messages due now and not leased, counted up to QUEUE_DEPTH_CAP, and how long the oldest has
 * waited past its time. One statement; each tier reads a bounded range of the claim index
 * (messages_claim_idx: priority, next_attempt_at), so its cost does not grow with the queue.
 */
export async function queueStats(db: Db, tiers: { tier: string; priority: number }[]): Promise<{ tier: string; depth: number; oldestAgeSeconds: number }[]> {
  const res = await sql<{ tier: string; depth: string; oldest_age: number | string | null }>`
    SELECT t.tier, q.depth, EXTRACT(EPOCH FROM (now() - q.oldest))::float8 AS oldest_age
      FROM unnest(${tiers.map((t) => t.tier)}::text[], ${tiers.map((t) => t.priority)}::int[]) AS t(tier, priority)
     CROSS JOIN LATERAL (
       SELECT count(*) AS depth, min(d.next_attempt_at) AS oldest
         FROM (SELECT next_attempt_at FROM messages
                WHERE priority = t.priority AND next_attempt_at IS NOT NULL AND next_attempt_at <= now()
                ORDER BY next_attempt_at
                LIMIT ${QUEUE_DEPTH_CAP}) d) q`.execute(db);
  return res.rows.map((r) => ({ tier: r.tier, depth: Number(r.depth), oldestAgeSeconds: Math.max(0, Number(r.oldest_age ?? 0)) }));
}
