import { sql } from 'kysely';
import { inTransaction, type Db } from '../../platform/db/database.js';
import type { BounceClass, EmailStatus } from '../../platform/lifecycle.js';
import { classifyBounce } from '../../platform/mail/bounce-class.js';
import { SuppressionService } from '../suppressions/index.js';
import { boundedReason } from './outcome.js';

/** What a report received after the send (a DSN, an ARF complaint, a simulator address) says about one recipient. */
export interface AsyncOutcome {
  emailId: string;
  /** the recipient's address as the email had it (matched without regard to case) */
  recipient: string;
  kind: 'bounced' | 'complained';
  /** the class the report's parser chose; null: classified here from `code` and `reason` */
  bounceClass: BounceClass | null;
  /** the report's diagnostic text (bounced) or feedback type (complained) */
  reason: string;
  /** the enhanced status code (RFC 3463), e.g. "5.1.1" */
  code?: string;
}

export interface AsyncOutcomeResult {
  /** the email exists and has that recipient */
  matched: boolean;
  /** something was recorded: false for a repeat of a report already recorded */
  recorded: boolean;
  /** the address was added to the suppression list by this report */
  suppressed: boolean;
}

/** The email statuses a later report may change: the worker owns the others until it settles the email. */
const SETTLED: readonly EmailStatus[] = ['sent', 'delivered', 'bounced', 'failed', 'suppressed'];

/**
 * Records a bounce or complaint that came back after the send, in one transaction (README, "Bounces and the
 * suppression list"): a bounce marks the recipient `bounced` with its class even when it was `sent` or `delivered`
 * (the relay took it, the mailbox refused it later), writes the `bounced` event ({bounce_type, bounce_reason, code,
 * async: true}), settles the email's status by the mixed-outcome rule (modules/delivery/outcome.ts) and applies
 * the suppression rules: hard → every tier, soft → counted toward SOFT_BOUNCE_LIMIT, block and undetermined →
 * nothing. A complaint writes the `complained` event (the recipient keeps its status) and suppresses the address
 * for every tier. A repeated report records nothing more. `db` must not be a transaction: this opens its own.
 */
export function recordAsyncOutcome(db: Db, o: AsyncOutcome): Promise<AsyncOutcomeResult> {
  return inTransaction(db, async (trx) => {
    const message = await trx
      .selectFrom('messages')
      .select(['id', 'workspace_id', 'status'])
      .where('id', '=', o.emailId)
      .forUpdate()
      .executeTakeFirst();
    if (!message) return { matched: false, recorded: false, suppressed: false };
    const rows = await trx
      .selectFrom('message_recipients')
      .select(['position', 'email', 'status'])
      .where('message_id', '=', o.emailId)
      .where(sql<string>`lower(email)`, '=', o.recipient.toLowerCase())
      .orderBy('position')
      .execute();
    const first = rows[0];
    if (!first) return { matched: false, recorded: false, suppressed: false };
    const base = { workspaceId: message.workspace_id, email: first.email, sourceEmailId: message.id };

    if (o.kind === 'complained') {
      const added = await sql`
        INSERT INTO message_events (message_id, type, recipient, detail)
        SELECT ${message.id}, 'complained', ${first.email}, ${JSON.stringify({ feedback_type: boundedReason(o.reason), async: true })}::jsonb
         WHERE NOT EXISTS (SELECT 1 FROM message_events WHERE message_id = ${message.id} AND type = 'complained' AND lower(recipient) = lower(${first.email}))`.execute(trx);
      const recorded = Number(added.numAffectedRows ?? 0) > 0;
      const suppressed = await SuppressionService.suppress(trx, { ...base, scope: 'all', reason: 'complaint' });
      return { matched: true, recorded, suppressed };
    }

    const verdict = classifyBounce({ code: null, status: o.code ?? null, text: o.reason });
    const bounceType = o.bounceClass ?? verdict.bounceClass;
    const reason = boundedReason(o.reason);
    const changed = await trx
      .updateTable('message_recipients')
      .set({ status: 'bounced', bounce_type: bounceType, bounce_reason: reason, smtp_response: reason, updated_at: new Date() })
      .where('message_id', '=', message.id)
      .where('position', 'in', rows.map((r) => r.position))
      .where('status', 'in', ['sent', 'delivered'])
      .returning('position')
      .execute();
    if (changed.length === 0) return { matched: true, recorded: false, suppressed: false };
    await trx
      .insertInto('message_events')
      .values({
        message_id: message.id,
        type: 'bounced',
        recipient: first.email,
        attempt: null,
        smtp_host: null,
        smtp_code: null,
        smtp_response: reason,
        detail: JSON.stringify({ bounce_type: bounceType, bounce_reason: reason, code: o.code ?? verdict.status, async: true }),
      })
      .execute();
    if (SETTLED.includes(message.status)) await settleStatus(trx, message.id, message.status);
    let suppressed = false;
    if (bounceType === 'hard') suppressed = await SuppressionService.suppress(trx, { ...base, scope: 'all', reason: 'hard_bounce' });
    else if (bounceType === 'soft') suppressed = await SuppressionService.recordSoftBounce(trx, base);
    return { matched: true, recorded: true, suppressed };
  });
}

/**
 * The email's status from its recipients, by the mixed-outcome rule of decideCompletion: still `sent`/`delivered`
 * while any recipient was accepted; else `failed` when any ran out of retries; else `bounced`.
 */
async function settleStatus(trx: Db, id: string, current: EmailStatus): Promise<void> {
  const statuses = (await trx.selectFrom('message_recipients').select('status').where('message_id', '=', id).execute()).map((r) => r.status);
  if (statuses.some((s) => s === 'sent' || s === 'delivered')) return;
  const next: EmailStatus = statuses.includes('failed') ? 'failed' : statuses.includes('bounced') ? 'bounced' : current;
  if (next === current) return;
  await trx
    .updateTable('messages')
    .set({ status: next, failed_at: sql<Date>`COALESCE(failed_at, now())`, updated_at: new Date() })
    .where('id', '=', id)
    .execute();
}
