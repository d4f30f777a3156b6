import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { SuppressionReason, SuppressionScope } from '../../platform/db/schema.js';
import type { EmailEventType } from '../../platform/lifecycle.js';

/**
 * The address's key is computed by PostgreSQL's lower(), the same function the delivery claim applies to a
 * recipient (modules/delivery/store.ts), so the two can never disagree about an address's spelling.
 */

export interface ListChange {
  workspaceId: string;
  email: string;
  /** the email whose link asked for it: its timeline gets the event */
  emailId: string;
  /** what the timeline entry says besides the recipient (how it was asked, e.g. one-click) */
  detail: Record<string, unknown>;
}

/**
 * Adds the address for the `bulk` tier, and in the same statement the `unsubscribed` event on the email's
 * timeline (the outbox the webhooks read). The primary key makes a repeat, or a concurrent twin, change nothing
 * and write no second event. True when this call added it.
 */
export async function addUnsubscribe(db: Db, c: ListChange): Promise<boolean> {
  const scope: SuppressionScope = 'bulk';
  const reason: SuppressionReason = 'unsubscribe';
  const type: EmailEventType = 'unsubscribed';
  const res = await sql`
    WITH added AS (
      INSERT INTO suppressions (workspace_id, email_key, email, scope, reason, source_email_id)
      VALUES (${c.workspaceId}, lower(${c.email}), ${c.email}, ${scope}, ${reason}, ${c.emailId})
      ON CONFLICT (workspace_id, email_key, scope) DO NOTHING
      RETURNING 1)
    INSERT INTO message_events (message_id, type, recipient, detail)
    SELECT ${c.emailId}, ${type}, ${c.email}, ${JSON.stringify({ ...c.detail, suppressed: scope })}::jsonb FROM added`.execute(db);
  return Number(res.numAffectedRows ?? 0) > 0;
}

/**
 * Lifts the address's unsubscribe from the `bulk` tier, with a `resubscribed` event in the same statement. Only
 * an unsubscribe is lifted: a suppression for another reason (a hard bounce, a complaint, the operator's) stays.
 * True when there was one to lift.
 */
export async function liftUnsubscribe(db: Db, c: ListChange): Promise<boolean> {
  const scope: SuppressionScope = 'bulk';
  const reason: SuppressionReason = 'unsubscribe';
  const type: EmailEventType = 'resubscribed';
  const res = await sql`
    WITH lifted AS (
      DELETE FROM suppressions
       WHERE workspace_id = ${c.workspaceId} AND email_key = lower(${c.email}) AND scope = ${scope} AND reason = ${reason}
      RETURNING 1)
    INSERT INTO message_events (message_id, type, recipient, detail)
    SELECT ${c.emailId}, ${type}, ${c.email}, ${JSON.stringify(c.detail)}::jsonb FROM lifted`.execute(db);
  return Number(res.numAffectedRows ?? 0) > 0;
}

export interface SuppressionEntry {
  email: string;
  scope: SuppressionScope;
  reason: SuppressionReason;
  source_email_id: string | null;
  created_at: Date;
}

/** The entries of one address, every scope. */
export function findByAddress(db: Db, workspaceId: string, email: string): Promise<SuppressionEntry[]> {
  return db
    .selectFrom('suppressions')
    .select(['email', 'scope', 'reason', 'source_email_id', 'created_at'])
    .where('workspace_id', '=', workspaceId)
    .where('email_key', '=', sql<string>`lower(${email})`)
    .orderBy('scope')
    .execute();
}

export interface Suppression {
  workspaceId: string;
  email: string;
  scope: SuppressionScope;
  reason: SuppressionReason;
  sourceEmailId: string | null;
}

/** Adds the address for the scope; a repeat changes nothing (the first reason and source stay). True when added. */
export async function suppress(db: Db, s: Suppression): Promise<boolean> {
  const res = await sql`
    INSERT INTO suppressions (workspace_id, email_key, email, scope, reason, source_email_id)
    VALUES (${s.workspaceId}, lower(${s.email}), ${s.email}, ${s.scope}, ${s.reason}, ${s.sourceEmailId})
    ON CONFLICT (workspace_id, email_key, scope) DO NOTHING`.execute(db);
  return Number(res.numAffectedRows ?? 0) > 0;
}
