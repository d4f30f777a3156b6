import { sql } from 'kysely';
import { addressWithinDomain } from '../../platform/db/address-domain.js';
import type { Db } from '../../platform/db/database.js';

/** Whose captured messages a query may see: the workspace's, or only those of emails sent from one domain. */
export interface CaptureScope {
  workspaceId: string;
  senderDomain: string | null;
}

export interface CapturedSummary {
  id: string;
  message_id: string;
  envelope_from: string;
  envelope_to: string[];
  subject: string;
  size: number;
  created_at: Date;
}

export async function insertCaptured(
  db: Db,
  row: { id: string; messageId: string; workspaceId: string; envelopeFrom: string; envelopeTo: string[]; subject: string; raw: Buffer },
): Promise<void> {
  await db
    .insertInto('captured_messages')
    .values({
      id: row.id,
      message_id: row.messageId,
      workspace_id: row.workspaceId,
      envelope_from: row.envelopeFrom,
      envelope_to: row.envelopeTo,
      subject: row.subject,
      size: row.raw.length,
      raw: row.raw,
    })
    .execute();
}

const SUMMARY = ['id', 'message_id', 'envelope_from', 'envelope_to', 'subject', 'size', 'created_at'] as const;
/** List items clip the subject (a rendered template's subject has no request limit) so a page stays small. */
const LIST_SUMMARY = ['id', 'message_id', 'envelope_from', 'envelope_to', sql<string>`left(subject, 1000)`.as('subject'), 'size', 'created_at'] as const;

export async function listCaptured(
  db: Db,
  opts: CaptureScope & { limit: number; before?: { createdAt: Date; id: string }; messageId?: string; recipient?: string },
): Promise<CapturedSummary[]> {
  let q = db.selectFrom('captured_messages').select(LIST_SUMMARY).where('workspace_id', '=', opts.workspaceId);
  if (opts.senderDomain !== null) q = q.where('message_id', 'in', sentFrom(db, opts.workspaceId, opts.senderDomain));
  if (opts.messageId) q = q.where('message_id', '=', opts.messageId);
  if (opts.recipient) q = q.where(sql<boolean>`${opts.recipient.toLowerCase()} = ANY (SELECT lower(x) FROM unnest(envelope_to) x)`);
  if (opts.before) {
    const b = opts.before;
    q = q.where((eb) => eb.or([eb('created_at', '<', b.createdAt), eb.and([eb('created_at', '=', b.createdAt), eb('id', '<', b.id)])]));
  }
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(opts.limit).execute();
}

export async function getCaptured(db: Db, scope: CaptureScope, id: string): Promise<(CapturedSummary & { raw: Buffer }) | undefined> {
  let q = db
    .selectFrom('captured_messages')
    .select([...SUMMARY, 'raw'])
    .where('workspace_id', '=', scope.workspaceId)
    .where((eb) => eb.or([eb(sql<string>`id::text`, '=', id), eb('message_id', '=', id)]));
  if (scope.senderDomain !== null) q = q.where('message_id', 'in', sentFrom(db, scope.workspaceId, scope.senderDomain));
  return q.orderBy('created_at', 'desc').limit(1).executeTakeFirst();
}

/** The workspace's emails whose `from` is at the domain; the envelope sender may be a return path, so it is not used. */
function sentFrom(db: Db, workspaceId: string, domain: string) {
  return db.selectFrom('messages').select('id').where('workspace_id', '=', workspaceId).where(addressWithinDomain('from_email', domain));
}
