import { sql } from 'kysely';
import { inTransaction, type Db } from '../../platform/db/database.js';
import type { EmailEventType } from '../../platform/lifecycle.js';
import { SuppressionService } from '../suppressions/index.js';

export type BounceClass = 'hard' | 'soft' | 'block' | 'undetermined';

export interface AsyncOutcome {
  emailId: string;
  /** the recipient's address as the email has it (any case) */
  recipient: string;
  kind: 'bounced' | 'complained';
  bounceClass: BounceClass | null;
  reason: string;
  /** the enhanced status code (RFC 3463), e.g. 5.1.1 */
  code?: string;
}

/** Longest reason text kept; a report's diagnostic can be anything. */
const MAX_REASON = 1000;

/**
 * What a report received after the attempt says (a DSN, an ARF complaint: modules/inbound), recorded in one
 * transaction: a bounce marks the recipient `bounced` (and the email, once none of its recipients got through),
 * both write the timeline entry the webhooks read, and a hard bounce or a complaint puts the address on the
 * workspace's suppression list for every tier. False when the email or the recipient is unknown, or the same
 * outcome was already recorded for that recipient (a report sent twice counts once).
 */
export async function recordAsyncOutcome(db: Db, o: AsyncOutcome): Promise<boolean> {
  const reason = o.reason.slice(0, MAX_REASON);
  return inTransaction(db, async (trx) => {
    const row = await sql<{ workspace_id: string; position: number; email: string; status: string }>`
      SELECT m.workspace_id, r.position, r.email, r.status
        FROM messages m JOIN message_recipients r ON r.message_id = m.id
       WHERE m.id = ${o.emailId} AND lower(r.email) = lower(${o.recipient})
       ORDER BY r.position LIMIT 1
         FOR UPDATE OF m`.execute(trx);
    const target = row.rows[0];
    if (!target) return false;
    const type: EmailEventType = o.kind;
    const seen = await trx
      .selectFrom('message_events')
      .select('id')
      .where('message_id', '=', o.emailId)
      .where('type', '=', type)
      .where('recipient', '=', target.email)
      .where(sql<boolean>`detail->>'source' = 'report'`)
      .executeTakeFirst();
    if (seen) return false;
    if (o.kind === 'bounced') {
      await trx
        .updateTable('message_recipients')
        .set({ status: 'bounced', smtp_response: reason, updated_at: new Date() })
        .where('message_id', '=', o.emailId)
        .where('position', '=', target.position)
        .execute();
      // the email is bounced once none of its recipients got through (modules/delivery/outcome.ts)
      await sql`
        UPDATE messages SET status = 'bounced', updated_at = now()
         WHERE id = ${o.emailId} AND status IN ('sent', 'delivered', 'bounced')
           AND NOT EXISTS (SELECT 1 FROM message_recipients WHERE message_id = ${o.emailId} AND status IN ('sent', 'delivered', 'pending', 'deferred'))`.execute(trx);
    }
    const suppressed = o.kind === 'complained' || o.bounceClass === 'hard';
    await trx
      .insertInto('message_events')
      .values({
        message_id: o.emailId,
        type,
        recipient: target.email,
        attempt: null,
        smtp_host: null,
        smtp_code: null,
        smtp_response: reason,
        detail: JSON.stringify({ source: 'report', bounce_type: o.bounceClass, code: o.code ?? null, ...(suppressed ? { suppressed: 'all' } : {}) }),
      })
      .execute();
    if (suppressed) {
      await SuppressionService.suppress(trx, {
        workspaceId: target.workspace_id,
        email: target.email,
        scope: 'all',
        reason: o.kind === 'complained' ? 'complaint' : 'hard_bounce',
        sourceEmailId: o.emailId,
      });
    }
    return true;
  });
}
