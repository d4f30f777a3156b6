import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { BlockedReason, SuppressionReason, SuppressionScope } from '../../platform/db/schema.js';
import type { EmailEventType } from '../../platform/lifecycle.js';

/**
 * Soft bounces of an address in a row (no delivery to it in between) that suppress it for every tier (README,
 * "Bounces and the suppression list"). One full mailbox is usually a passing state; three in a row, each after its
 * own retries ran out or its own refusal, is a mailbox nobody empties.
 */
export const SOFT_BOUNCE_LIMIT = 3;

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

/** The reasons a suppression for every tier blocks the address's contact with (contacts.blocked_reason). */
const BLOCKING: ReadonlySet<string> = new Set<BlockedReason>(['hard_bounce', 'soft_bounce', 'complaint', 'manual']);

export interface Suppression {
  workspaceId: string;
  email: string;
  scope: SuppressionScope;
  reason: SuppressionReason;
  /** the email whose bounce or complaint added it; null when added by hand */
  sourceEmailId: string | null;
}

/**
 * Adds the address to the list (a repeat changes nothing: the first reason stays) and, for the `all` scope and a
 * reason other than an unsubscribe, blocks the workspace's contact of that address in the same statement (its
 * first block reason stays). The contact is found by its own key, JavaScript's toLowerCase (contacts/store.ts),
 * while the list keeps PostgreSQL's lower() that the delivery claim compares with: each side is matched by the
 * function its own rows were keyed with. Takes a transaction, so a caller's outcome and this commit together.
 * True when this call added the entry.
 */
export async function suppress(db: Db, s: Suppression): Promise<boolean> {
  const blocks = s.scope === 'all' && BLOCKING.has(s.reason);
  const res = await sql<{ added: boolean }>`
    WITH added AS (
      INSERT INTO suppressions (workspace_id, email_key, email, scope, reason, source_email_id)
      VALUES (${s.workspaceId}, lower(${s.email}), ${s.email}, ${s.scope}, ${s.reason}, ${s.sourceEmailId})
      ON CONFLICT (workspace_id, email_key, scope) DO NOTHING
      RETURNING 1),
    blocked AS (
      UPDATE contacts SET status = 'blocked', blocked_reason = ${s.reason}, blocked_at = now(), updated_at = now()
       WHERE ${blocks} AND workspace_id = ${s.workspaceId} AND email_key = ${s.email.toLowerCase()} AND status <> 'blocked'
      RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM added) AS added`.execute(db);
  return res.rows[0]?.added === true;
}

/**
 * One soft bounce of the address: counts it, and at SOFT_BOUNCE_LIMIT in a row suppresses the address for every
 * tier (reason `soft_bounce`). True when this bounce suppressed it.
 */
export async function recordSoftBounce(db: Db, s: Omit<Suppression, 'scope' | 'reason'>): Promise<boolean> {
  const counted = await sql<{ count: number }>`
    INSERT INTO suppression_soft_counts (workspace_id, email_key, count) VALUES (${s.workspaceId}, lower(${s.email}), 1)
    ON CONFLICT (workspace_id, email_key) DO UPDATE SET count = suppression_soft_counts.count + 1, updated_at = now()
    RETURNING count`.execute(db);
  if ((counted.rows[0]?.count ?? 0) < SOFT_BOUNCE_LIMIT) return false;
  return suppress(db, { ...s, scope: 'all', reason: 'soft_bounce' });
}

export interface SuppressionListFilter {
  workspaceId: string;
  reason?: SuppressionReason;
  email?: string;
  /** the last entry of the previous page, in the list's order */
  after?: { createdAt: Date; emailKey: string; scope: string };
  limit: number;
}

export type SuppressionListRow = SuppressionEntry & { email_key: string };

/** Newest first; ties by address key and scope, so a keyset cursor is exact. */
export function list(db: Db, f: SuppressionListFilter): Promise<SuppressionListRow[]> {
  let q = db
    .selectFrom('suppressions')
    .select(['email', 'email_key', 'scope', 'reason', 'source_email_id', 'created_at'])
    .where('workspace_id', '=', f.workspaceId);
  if (f.reason) q = q.where('reason', '=', f.reason);
  if (f.email !== undefined) q = q.where('email_key', '=', sql<string>`lower(${f.email})`);
  if (f.after) {
    const a = f.after;
    q = q.where(sql<boolean>`(created_at, email_key, scope) < (${a.createdAt}::timestamptz, ${a.emailKey}::text, ${a.scope}::text)`);
  }
  return q.orderBy('created_at', 'desc').orderBy('email_key', 'desc').orderBy('scope', 'desc').limit(f.limit).execute();
}

/**
 * Takes the address off the list, every scope and reason, and lifts the block its contact got from the list
 * (a contact blocked for the same reasons the list gave), in one statement. The entries it removed.
 */
export async function remove(db: Db, workspaceId: string, email: string): Promise<SuppressionEntry[]> {
  const res = await sql<SuppressionEntry>`
    WITH removed AS (
      DELETE FROM suppressions WHERE workspace_id = ${workspaceId} AND email_key = lower(${email})
      RETURNING email, scope, reason, source_email_id, created_at),
    counts AS (
      DELETE FROM suppression_soft_counts WHERE workspace_id = ${workspaceId} AND email_key = lower(${email})),
    unblocked AS (
      UPDATE contacts SET status = 'subscribed', blocked_reason = NULL, blocked_at = NULL, updated_at = now()
       WHERE workspace_id = ${workspaceId} AND email_key = ${email.toLowerCase()} AND status = 'blocked'
         AND blocked_reason IN (SELECT reason FROM removed WHERE scope = 'all')
      RETURNING 1)
    SELECT * FROM removed ORDER BY scope`.execute(db);
  return res.rows;
}
