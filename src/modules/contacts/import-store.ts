import { sql } from 'kysely';
import type { Db, Tx } from '../../platform/db/database.js';
import type { ContactImportRow, ContactRow, ImportRowError } from '../../platform/db/schema.js';
import { uuidv7 } from '../../platform/ids.js';
import type { ImportedRow } from './import-csv.js';
import { emailKey, listedBlockReason } from './store.js';

// SQL of CSV imports (migrations/007_contact_imports.sql). A batch of rows goes to the database as one array per
// column (unnest), so a statement takes a fixed number of bind parameters however many rows it carries and
// stays far within platform/db/param-budget.ts.

/**
 * Imports of the workspace receiving, waiting or running. One receiving or running writes at least every few
 * seconds, so one silent for 10 minutes was cut off by a crash (a resumed job writes again) and stops counting.
 */
export async function countActiveImports(db: Db, workspaceId: string): Promise<number> {
  const row = await db
    .selectFrom('contact_imports')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('workspace_id', '=', workspaceId)
    .where((eb) => eb.or([eb('status', '=', 'queued'), eb.and([eb('status', 'in', ['receiving', 'running']), eb('updated_at', '>', sql<Date>`now() - interval '10 minutes'`)])]))
    .executeTakeFirstOrThrow();
  return row.n;
}

export function insertImport(db: Db, workspaceId: string, audienceId: string | null): Promise<ContactImportRow> {
  return db.insertInto('contact_imports').values({ id: uuidv7(), workspace_id: workspaceId, audience_id: audienceId }).returningAll().executeTakeFirstOrThrow();
}

export function findImport(db: Db | Tx, workspaceId: string | null, id: string): Promise<ContactImportRow | undefined> {
  let q = db.selectFrom('contact_imports').selectAll().where('id', '=', id);
  if (workspaceId !== null) q = q.where('workspace_id', '=', workspaceId);
  return q.executeTakeFirst();
}

/** One piece of the upload, and the running byte count (which also keeps a live upload from looking abandoned). */
export async function appendChunk(db: Db, importId: string, seq: number, data: Buffer): Promise<void> {
  await db.insertInto('contact_import_chunks').values({ import_id: importId, seq, data }).execute();
  await db
    .updateTable('contact_imports')
    .set({ bytes: sql`bytes + ${data.length}`, updated_at: new Date() })
    .where('id', '=', importId)
    .execute();
}

export async function readChunk(db: Db, importId: string, seq: number): Promise<Buffer | undefined> {
  const row = await db.selectFrom('contact_import_chunks').select('data').where('import_id', '=', importId).where('seq', '=', seq).executeTakeFirst();
  // PGlite answers a Uint8Array: seen as a Buffer without a copy
  return row ? Buffer.from(row.data.buffer, row.data.byteOffset, row.data.byteLength) : undefined;
}

export async function deleteImport(db: Db, id: string): Promise<void> {
  await db.deleteFrom('contact_imports').where('id', '=', id).execute();
}

/** Imports still receiving whose last piece arrived before `before`; their pieces go with them (cascade). */
export async function deleteAbandonedImports(db: Db, before: Date): Promise<number> {
  const res = await db.deleteFrom('contact_imports').where('status', '=', 'receiving').where('updated_at', '<', before).executeTakeFirst();
  return Number(res.numDeletedRows);
}

export interface ImportCounters {
  rows_read: number;
  rows_created: number;
  rows_updated: number;
  rows_skipped: number;
  rows_failed: number;
}

/** The counters up to `checkpointLine`, and the next failed rows of the report; in the batch's transaction. */
export async function saveProgress(trx: Db | Tx, id: string, counters: ImportCounters, checkpointLine: number, newErrors: readonly ImportRowError[]): Promise<void> {
  await trx
    .updateTable('contact_imports')
    .set({
      ...counters,
      checkpoint_line: checkpointLine,
      ...(newErrors.length > 0 ? { errors: sql`errors || ${JSON.stringify(newErrors)}::jsonb` } : {}),
      updated_at: new Date(),
    })
    .where('id', '=', id)
    .execute();
}

/** The end of an import: its status, and its upload, no longer needed, goes. */
export async function finishImport(trx: Tx, id: string, status: 'completed' | 'failed', error: string | null): Promise<void> {
  await trx.updateTable('contact_imports').set({ status, error, finished_at: new Date(), updated_at: new Date() }).where('id', '=', id).execute();
  await trx.deleteFrom('contact_import_chunks').where('import_id', '=', id).execute();
}

/** What a batch reads of the contacts it may change. */
type ExistingContact = Pick<ContactRow, 'id' | 'email_key' | 'first_name' | 'last_name' | 'company_name' | 'job_title' | 'phone' | 'tags' | 'custom_fields'>;

const PROFILE = ['first_name', 'last_name', 'company_name', 'job_title', 'phone'] as const;

/** What a row changes on an existing contact: fields set to another value, tags added, custom fields set. */
function changesOf(c: ExistingContact, r: ImportedRow): { fields: string[]; next: ExistingContact } {
  const fields: string[] = [];
  const next = { ...c };
  for (const key of PROFILE) {
    const value = r[key];
    if (value !== undefined && value !== c[key]) {
      next[key] = value;
      fields.push(key);
    }
  }
  const added = r.tags.filter((t) => !c.tags.includes(t));
  if (added.length > 0) {
    next.tags = [...c.tags, ...added];
    fields.push('tags');
  }
  const custom = Object.entries(r.custom).filter(([k, v]) => c.custom_fields[k] !== v);
  if (custom.length > 0) {
    next.custom_fields = { ...c.custom_fields, ...Object.fromEntries(custom) };
    fields.push('custom_fields');
  }
  return { fields, next };
}

export interface BatchOutcome {
  created: number;
  updated: number;
  skipped: number;
}

/** Locked in email order, so two imports sharing addresses wait for each other instead of deadlocking. */
async function lockExisting(trx: Tx, workspaceId: string, keys: string[]): Promise<ExistingContact[]> {
  const res = await sql<ExistingContact>`
    SELECT id, email_key, first_name, last_name, company_name, job_title, phone, tags, custom_fields
      FROM contacts
     WHERE workspace_id = ${workspaceId} AND email_key = ANY(${keys}::text[])
     ORDER BY email_key
       FOR UPDATE`.execute(trx);
  return res.rows;
}

/**
 * Writes one batch of rows (their addresses all different) in the caller's transaction: new contacts inserted,
 * changed ones updated, unchanged ones left alone; each added to the audience unless a member already (the
 * triggers of migration 006 keep its count); and the events of all of it. An unchanged row that is a member
 * already writes nothing, so importing a file again changes nothing.
 */
export async function upsertContactBatch(trx: Tx, o: { workspaceId: string; audienceId: string | null; importId: string; rows: readonly ImportedRow[] }): Promise<BatchOutcome> {
  const byKey = new Map(o.rows.map((r) => [emailKey(r.email), r]));
  const existing = await lockExisting(trx, o.workspaceId, [...byKey.keys()]);
  const found = new Set(existing.map((c) => c.email_key));
  // inserted in address order too, so two imports adding the same new addresses do not deadlock on them
  const fresh = o.rows.filter((r) => !found.has(emailKey(r.email))).sort((a, b) => (emailKey(a.email) < emailKey(b.email) ? -1 : 1));

  const events: { contactId: string; audienceId: string | null; type: string; data: Record<string, unknown> }[] = [];
  const source = { source: 'import', import_id: o.importId };
  const ids = new Map<string, string>();
  let created = 0;
  if (fresh.length > 0) {
    const newIds = fresh.map(() => uuidv7());
    const inserted = await sql<{ id: string; email_key: string; email: string }>`
      INSERT INTO contacts (id, workspace_id, email, email_key, first_name, last_name, company_name, job_title, phone, tags, custom_fields,
                            status, blocked_reason, blocked_at)
      SELECT r.id, ${o.workspaceId}, r.email, r.email_key, r.first_name, r.last_name, r.company_name, r.job_title, r.phone,
             ARRAY(SELECT jsonb_array_elements_text(r.tags)), r.custom,
             -- an address on the suppression list comes in blocked (store.ts, listedBlockReason): one index probe a row
             CASE WHEN l.reason IS NULL THEN 'subscribed' ELSE 'blocked' END, l.reason, CASE WHEN l.reason IS NULL THEN NULL ELSE now() END
        FROM unnest(${newIds}::uuid[], ${fresh.map((r) => r.email)}::text[], ${fresh.map((r) => emailKey(r.email))}::text[],
                    ${fresh.map((r) => r.first_name ?? null)}::text[], ${fresh.map((r) => r.last_name ?? null)}::text[],
                    ${fresh.map((r) => r.company_name ?? null)}::text[], ${fresh.map((r) => r.job_title ?? null)}::text[],
                    ${fresh.map((r) => r.phone ?? null)}::text[], ${fresh.map((r) => JSON.stringify(r.tags))}::jsonb[],
                    ${fresh.map((r) => JSON.stringify(r.custom))}::jsonb[])
             AS r(id, email, email_key, first_name, last_name, company_name, job_title, phone, tags, custom)
        LEFT JOIN LATERAL ${listedBlockReason(o.workspaceId, sql`r.email`)} AS l(reason) ON true
      -- another writer may add one of these addresses meanwhile: that row is then treated as an existing one
      ON CONFLICT (workspace_id, email_key) DO NOTHING
      RETURNING id, email_key, email`.execute(trx);
    for (const c of inserted.rows) {
      ids.set(c.email_key, c.id);
      events.push({ contactId: c.id, audienceId: null, type: 'contact.created', data: { email: c.email, ...source } });
    }
    created = inserted.rows.length;
    if (created < fresh.length) {
      const lost = fresh.map((r) => emailKey(r.email)).filter((k) => !ids.has(k));
      existing.push(...(await lockExisting(trx, o.workspaceId, lost)));
    }
  }

  const updates: ExistingContact[] = [];
  const changedKeys = new Set<string>();
  for (const c of existing) {
    ids.set(c.email_key, c.id);
    const { fields, next } = changesOf(c, byKey.get(c.email_key)!);
    if (fields.length === 0) continue;
    updates.push(next);
    changedKeys.add(c.email_key);
    events.push({ contactId: c.id, audienceId: null, type: 'contact.updated', data: { fields, ...source } });
  }
  if (updates.length > 0) {
    await sql`
      UPDATE contacts c
         SET first_name = u.first_name, last_name = u.last_name, company_name = u.company_name, job_title = u.job_title,
             phone = u.phone, tags = ARRAY(SELECT jsonb_array_elements_text(u.tags)), custom_fields = u.custom, updated_at = now()
        FROM unnest(${updates.map((u) => u.id)}::uuid[], ${updates.map((u) => u.first_name)}::text[], ${updates.map((u) => u.last_name)}::text[],
                    ${updates.map((u) => u.company_name)}::text[], ${updates.map((u) => u.job_title)}::text[], ${updates.map((u) => u.phone)}::text[],
                    ${updates.map((u) => JSON.stringify(u.tags))}::jsonb[], ${updates.map((u) => JSON.stringify(u.custom_fields))}::jsonb[])
             AS u(id, first_name, last_name, company_name, job_title, phone, tags, custom)
       WHERE c.id = u.id`.execute(trx);
  }

  if (o.audienceId) {
    const members = [...ids.entries()];
    // an existing membership is left as it is: an import never resubscribes someone who unsubscribed
    const joined = await sql<{ contact_id: string; status: 'subscribed' | 'unsubscribed' }>`
      INSERT INTO audience_members (audience_id, contact_id, status, subscribed_at, unsubscribed_at)
      SELECT ${o.audienceId}, m.contact_id, m.status,
             CASE WHEN m.status = 'subscribed' THEN now() END, CASE WHEN m.status = 'unsubscribed' THEN now() END
        FROM unnest(${members.map(([, id]) => id)}::uuid[], ${members.map(([key]) => byKey.get(key)!.membership)}::text[]) AS m(contact_id, status)
      ON CONFLICT (audience_id, contact_id) DO NOTHING
      RETURNING contact_id, status`.execute(trx);
    const keyOf = new Map(members.map(([key, id]) => [id, key]));
    for (const m of joined.rows) {
      changedKeys.add(keyOf.get(m.contact_id)!);
      events.push({ contactId: m.contact_id, audienceId: o.audienceId, type: m.status === 'subscribed' ? 'contact.subscribed' : 'contact.unsubscribed', data: source });
    }
  }

  if (events.length > 0) {
    await sql`
      INSERT INTO contact_events (workspace_id, contact_id, audience_id, type, data)
      SELECT ${o.workspaceId}, e.contact_id, e.audience_id, e.type, e.data
        FROM unnest(${events.map((e) => e.contactId)}::uuid[], ${events.map((e) => e.audienceId)}::uuid[], ${events.map((e) => e.type)}::text[],
                    ${events.map((e) => JSON.stringify(e.data))}::jsonb[]) WITH ORDINALITY AS e(contact_id, audience_id, type, data, n)
       ORDER BY e.n`.execute(trx);
  }
  // a contact created here is counted as created even though its audience membership is new too
  const existingKeys = new Set(existing.map((c) => c.email_key));
  const updated = [...changedKeys].filter((k) => existingKeys.has(k)).length;
  return { created, updated, skipped: o.rows.length - created - updated };
}
