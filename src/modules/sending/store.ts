import { sql } from 'kysely';
import { addressWithinDomain } from '../../platform/db/address-domain.js';
import { inTransaction, type Db, type Tx } from '../../platform/db/database.js';
import { countWithinParamBudget } from '../../platform/db/param-budget.js';
import type { NewMessage, NewMessageEvent, NewMessageRecipient } from '../../platform/db/schema.js';
import type { QueueSignal } from '../../platform/queue/signal.js';

export interface QueuedEmail {
  message: NewMessage;
  recipients: NewMessageRecipient[];
  event: NewMessageEvent;
}

const MESSAGE_COLUMNS = 33;
const RECIPIENT_COLUMNS = 9;
const EVENT_COLUMNS = 10;

/** How many of the pending emails fit in one statement: their messages, recipients and events (writeAcceptedBatch). */
export const batchSizeFor = (items: QueuedEmail[]): number => countWithinParamBudget(items, (item) => MESSAGE_COLUMNS + item.recipients.length * RECIPIENT_COLUMNS + EVENT_COLUMNS, 1000);

export async function insertQueuedEmails(trx: Tx, items: QueuedEmail[]): Promise<void> {
  await trx.insertInto('messages').values(items.map((i) => i.message)).execute();
  const recipients = items.flatMap((i) => i.recipients);
  if (recipients.length > 0) await trx.insertInto('message_recipients').values(recipients).execute();
  await trx.insertInto('message_events').values(items.map((i) => i.event)).execute();
}

/**
 * Writes a group of accepted emails and wakes the workers for their tiers, in one statement: its own commit, and
 * one round trip. On a busy database every round trip of a transaction waits its turn for the database process
 * (BEGIN, three inserts, NOTIFY and COMMIT would be six turns), and the accept of an instant email is the wait its
 * sender sees. The statement's inserts are data-modifying WITH queries: all or none of them commit.
 */
export async function writeAcceptedBatch(db: Db, signal: QueueSignal, items: QueuedEmail[]): Promise<void> {
  const topics = [...new Set(items.map((i) => i.message.tier))];
  const recipients = items.flatMap((i) => i.recipients);
  if (recipients.length === 0) throw new Error('an accepted email has at least one recipient');
  await db
    .with('added_messages', (q) => q.insertInto('messages').values(items.map((i) => i.message)))
    .with('added_recipients', (q) => q.insertInto('message_recipients').values(recipients))
    .with('added_events', (q) => q.insertInto('message_events').values(items.map((i) => i.event)))
    .selectNoFrom(signal.notifications(topics))
    .execute();
  for (const t of topics) signal.wakeLocal(t);
}

export interface IdempotencyRecord {
  request_hash: string;
  response: Record<string, unknown>;
}

export function findIdempotencyRecord(db: Db | Tx, workspaceId: string, key: string): Promise<IdempotencyRecord | undefined> {
  return db
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'response'])
    .where('workspace_id', '=', workspaceId)
    .where('key', '=', key)
    .where('created_at', '>', new Date(Date.now() - 24 * 3600 * 1000))
    .executeTakeFirst();
}

/**
 * The idempotency row and the email commit together; the primary key makes a concurrent retry collide
 * instead of sending twice. Returns the stored record when another request won the race.
 */
export async function writeIdempotentEmail(
  db: Db,
  signal: QueueSignal,
  item: QueuedEmail,
  idem: { workspaceId: string; key: string; requestHash: string; response: Record<string, unknown> },
): Promise<IdempotencyRecord | null> {
  const existing = await inTransaction(db, async (trx) => {
    // expired records are replaced: a key is honoured for 24 hours
    await trx
      .deleteFrom('idempotency_keys')
      .where('workspace_id', '=', idem.workspaceId)
      .where('key', '=', idem.key)
      .where('created_at', '<=', new Date(Date.now() - 24 * 3600 * 1000))
      .execute();
    const inserted = await trx
      .insertInto('idempotency_keys')
      .values({
        workspace_id: idem.workspaceId,
        key: idem.key,
        request_hash: idem.requestHash,
        message_id: item.message.id,
        response: JSON.stringify(idem.response),
      })
      .onConflict((oc) => oc.columns(['workspace_id', 'key']).doNothing())
      .returning('key')
      .executeTakeFirst();
    if (!inserted) return (await findIdempotencyRecord(trx, idem.workspaceId, idem.key)) ?? null;
    await insertQueuedEmails(trx, [item]);
    await signal.notifyInTransaction(trx, item.message.tier);
    return null;
  });
  if (!existing) signal.wakeLocal(item.message.tier);
  return existing;
}

export interface ScheduledRow {
  id: string;
  tier: string;
  from_email: string;
  subject: string;
  scheduled_at: Date | null;
  timezone: string | null;
  recipients_count: number;
  created_at: Date;
}

/** A rendered template's subject has no request limit: list items clip it so a page stays small. */
const LIST_SUBJECT_CHARS = 1_000;

/** Whose emails a query may touch: the workspace's, or only those sent from one domain (a domain-tied key). */
export interface SenderScope {
  workspaceId: string;
  senderDomain: string | null;
}

export function listScheduled(db: Db, scope: SenderScope, limit: number, after?: { createdAt: Date; id: string }): Promise<ScheduledRow[]> {
  let q = db
    .selectFrom('messages')
    .select(['id', 'tier', 'from_email', sql<string>`left(subject, ${sql.lit(LIST_SUBJECT_CHARS)})`.as('subject'), 'scheduled_at', 'timezone', 'recipients_count', 'created_at'])
    .where('workspace_id', '=', scope.workspaceId)
    .where('status', '=', 'scheduled');
  if (scope.senderDomain !== null) q = q.where(addressWithinDomain('from_email', scope.senderDomain));
  if (after) {
    q = q.where((eb) => eb.or([eb('scheduled_at', '>', after.createdAt), eb.and([eb('scheduled_at', '=', after.createdAt), eb('id', '>', after.id)])]));
  }
  return q.orderBy('scheduled_at').orderBy('id').limit(limit).execute();
}

/** The status check and the change are one statement, so a cancel cannot slip past a worker's claim. */
export async function cancelScheduled(db: Db, scope: SenderScope, id: string): Promise<{ created_at: Date; recipients_count: number } | undefined> {
  return inTransaction(db, async (trx) => {
    let update = trx
      .updateTable('messages')
      .set({ status: 'cancelled', next_attempt_at: null, updated_at: new Date() })
      .where('workspace_id', '=', scope.workspaceId)
      .where('id', '=', id)
      .where('status', '=', 'scheduled');
    if (scope.senderDomain !== null) update = update.where(addressWithinDomain('from_email', scope.senderDomain));
    const row = await update.returning(['created_at', 'recipients_count']).executeTakeFirst();
    if (row) {
      await trx
        .insertInto('message_events')
        .values({ message_id: id, type: 'cancelled', recipient: null, attempt: null, smtp_host: null, smtp_code: null, smtp_response: null, detail: JSON.stringify({ reason: 'cancelled by API' }) })
        .execute();
    }
    return row;
  });
}

export async function statusOf(db: Db, scope: SenderScope, id: string): Promise<string | undefined> {
  let q = db.selectFrom('messages').select('status').where('workspace_id', '=', scope.workspaceId).where('id', '=', id);
  if (scope.senderDomain !== null) q = q.where(addressWithinDomain('from_email', scope.senderDomain));
  const row = await q.executeTakeFirst();
  return row?.status;
}
