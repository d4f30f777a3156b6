import { sql } from 'kysely';
import type { Db, Tx } from '../../platform/db/database.js';
import type { DomainDkimKeyRow, DomainEventRow, DomainRow, DomainStatus } from '../../platform/db/schema.js';
import { normalizeDomainName } from '../../platform/dns/domain-name.js';
import { isUuid } from '../../platform/ids.js';

/** Retired keys stay listed (as records to delete later) for this long after a rotation. */
export const RETIRED_KEY_LISTED_MS = 7 * 24 * 3600_000;

export interface NewDomain {
  id: string;
  workspaceId: string;
  name: string;
  region: string;
  mailFromDomain: string;
  now: Date;
}

export interface NewDkimKey {
  id: string;
  domainId: string;
  selector: string;
  publicKey: string;
  privateKeySealed: string;
  status: 'pending' | 'active';
  now: Date;
}

export async function insertDomain(db: Tx, d: NewDomain): Promise<DomainRow> {
  return db
    .insertInto('domains')
    .values({
      id: d.id,
      workspace_id: d.workspaceId,
      name: d.name,
      region: d.region,
      mail_from_domain: d.mailFromDomain,
      verification_started_at: d.now,
      created_at: d.now,
      updated_at: d.now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Domains of a workspace that are not deleted. */
export async function countLiveDomains(db: Db | Tx, workspaceId: string): Promise<number> {
  const row = await db
    .selectFrom('domains')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('workspace_id', '=', workspaceId)
    .where('deleted_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function insertDkimKey(db: Tx, k: NewDkimKey): Promise<void> {
  await db
    .insertInto('domain_dkim_keys')
    .values({
      id: k.id,
      domain_id: k.domainId,
      selector: k.selector,
      public_key: k.publicKey,
      private_key_sealed: k.privateKeySealed,
      status: k.status,
      created_at: k.now,
      activated_at: k.status === 'active' ? k.now : null,
    })
    .execute();
}

export async function insertEvent(db: Db | Tx, domainId: string, type: string, detail: Record<string, unknown> = {}): Promise<void> {
  await db.insertInto('domain_events').values({ domain_id: domainId, type, detail: JSON.stringify(detail) }).execute();
}

/** Is the name taken in the workspace (by a domain that is not deleted)? */
export async function nameTaken(db: Tx, workspaceId: string, name: string): Promise<boolean> {
  const row = await db.selectFrom('domains').select('id').where('workspace_id', '=', workspaceId).where('name', '=', name).where('deleted_at', 'is', null).executeTakeFirst();
  return row !== undefined;
}

export function listDomains(db: Db, workspaceId: string): Promise<DomainRow[]> {
  return db.selectFrom('domains').selectAll().where('workspace_id', '=', workspaceId).where('deleted_at', 'is', null).orderBy('created_at').orderBy('id').execute();
}

/** By id, or by name (the CLI takes either); another workspace's domain is simply not found. */
export function findDomain(db: Db, workspaceId: string, idOrName: string): Promise<DomainRow | undefined> {
  const q = db.selectFrom('domains').selectAll().where('workspace_id', '=', workspaceId).where('deleted_at', 'is', null);
  if (isUuid(idOrName)) return q.where('id', '=', idOrName).executeTakeFirst();
  const name = normalizeDomainName(idOrName);
  return name.ok ? q.where('name', '=', name.ascii).executeTakeFirst() : Promise.resolve(undefined);
}

export function findDomainById(db: Db, id: string): Promise<DomainRow | undefined> {
  if (!isUuid(id)) return Promise.resolve(undefined);
  return db.selectFrom('domains').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
}

export function lockDomain(db: Tx, id: string): Promise<DomainRow | undefined> {
  return db.selectFrom('domains').selectAll().where('id', '=', id).where('deleted_at', 'is', null).forUpdate().executeTakeFirst();
}

/** The keys that appear in DNS records: active, pending, and those retired within the last week. */
export function keysOf(db: Db | Tx, domainIds: string[], now = new Date()): Promise<DomainDkimKeyRow[]> {
  if (domainIds.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('domain_dkim_keys')
    .selectAll()
    .where('domain_id', 'in', domainIds)
    .where((eb) => eb.or([eb('status', '!=', 'retired'), eb('retired_at', '>', new Date(now.getTime() - RETIRED_KEY_LISTED_MS))]))
    .orderBy('created_at')
    .execute();
}

export async function selectorsOf(db: Tx, domainId: string): Promise<string[]> {
  return (await db.selectFrom('domain_dkim_keys').select('selector').where('domain_id', '=', domainId).execute()).map((r) => r.selector);
}

export interface DomainStateUpdate {
  verificationStatus: DomainStatus;
  mailFromStatus: DomainStatus;
  checks: unknown[];
  verificationStartedAt: Date;
  verifiedAt: Date | null;
  mailFromVerifiedAt: Date | null;
  now: Date;
}

export async function updateDomainState(db: Tx, id: string, u: DomainStateUpdate): Promise<DomainRow> {
  return db
    .updateTable('domains')
    .set({
      verification_status: u.verificationStatus,
      mail_from_status: u.mailFromStatus,
      checks: JSON.stringify(u.checks),
      verification_started_at: u.verificationStartedAt,
      verified_at: u.verifiedAt,
      mail_from_verified_at: u.mailFromVerifiedAt,
      last_checked_at: u.now,
      updated_at: u.now,
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Switches signing to the pending key: the active one is retired in the same transaction. */
export async function promotePendingKey(db: Tx, domainId: string, now: Date): Promise<void> {
  await db.updateTable('domain_dkim_keys').set({ status: 'retired', retired_at: now }).where('domain_id', '=', domainId).where('status', '=', 'active').execute();
  await db.updateTable('domain_dkim_keys').set({ status: 'active', activated_at: now }).where('domain_id', '=', domainId).where('status', '=', 'pending').execute();
}

/** Irreversible: the row stays (so keys tied to it stay dead), its private keys are destroyed. */
export async function softDeleteDomain(db: Tx, id: string, now: Date): Promise<void> {
  await db.deleteFrom('domain_dkim_keys').where('domain_id', '=', id).execute();
  await db.updateTable('domains').set({ deleted_at: now, updated_at: now, checks: '[]' }).where('id', '=', id).execute();
}

export function eventsOf(db: Db, domainId: string, limit = 50): Promise<DomainEventRow[]> {
  return db.selectFrom('domain_events').selectAll().where('domain_id', '=', domainId).orderBy('id', 'desc').limit(limit).execute();
}

export interface SendingDomainRow {
  id: string;
  name: string;
  region: string;
  verification_status: DomainStatus;
  mail_from_domain: string;
  mail_from_status: DomainStatus;
  key_id: string | null;
  selector: string | null;
  private_key_sealed: string | null;
}

/** The workspace's domains with their signing key, for the sending rules and the signer. */
export async function sendingDomainsOf(db: Db, workspaceId: string): Promise<SendingDomainRow[]> {
  const res = await sql<SendingDomainRow>`
    SELECT d.id, d.name, d.region, d.verification_status, d.mail_from_domain, d.mail_from_status,
           k.id AS key_id, k.selector, k.private_key_sealed
      FROM domains d
      LEFT JOIN domain_dkim_keys k ON k.domain_id = d.id AND k.status = 'active'
     WHERE d.workspace_id = ${workspaceId} AND d.deleted_at IS NULL`.execute(db);
  return res.rows;
}
