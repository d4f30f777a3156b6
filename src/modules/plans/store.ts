import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.js';

/**
 * Adds n to the period's counter only if the result stays within the quota. The row lock of the upsert
 * serialises racing requests, so the quota is never overshot. Returns false when it would be.
 */
export async function tryConsume(db: Db, workspaceId: string, period: string, n: number, quota: number): Promise<boolean> {
  if (n > quota) return false;
  const res = await sql<{ emails: number }>`
    INSERT INTO usage_counters AS u (workspace_id, period, emails) VALUES (${workspaceId}, ${period}, ${n})
    ON CONFLICT (workspace_id, period) DO UPDATE SET emails = u.emails + EXCLUDED.emails
     WHERE u.emails + EXCLUDED.emails <= ${quota}
    RETURNING u.emails`.execute(db);
  return res.rows.length > 0;
}

export async function giveBack(db: Db, workspaceId: string, period: string, n: number): Promise<void> {
  await sql`UPDATE usage_counters SET emails = GREATEST(0, emails - ${n}) WHERE workspace_id = ${workspaceId} AND period = ${period}`.execute(db);
}

export async function counted(db: Db, workspaceId: string, period: string): Promise<number> {
  const row = await db.selectFrom('usage_counters').select('emails').where('workspace_id', '=', workspaceId).where('period', '=', period).executeTakeFirst();
  return row?.emails ?? 0;
}

/** What was really accepted this period, whatever the plan: the messages are the record. */
export async function acceptedSince(db: Db, workspaceId: string, since: Date): Promise<{ emails: number; recipients: number }> {
  const row = await db
    .selectFrom('messages')
    .select((eb) => [eb.fn.countAll<string>().as('emails'), eb.fn.coalesce(eb.fn.sum<string>('recipients_count'), sql<string>`0`).as('recipients')])
    .where('workspace_id', '=', workspaceId)
    .where('created_at', '>=', since)
    .where('status', '!=', 'cancelled')
    .executeTakeFirstOrThrow();
  return { emails: Number(row.emails), recipients: Number(row.recipients) };
}
