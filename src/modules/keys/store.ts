import { sql } from 'kysely';
import type { Db, Tx } from '../../platform/db/database.js';
import type { ApiKeyRow } from '../../platform/db/schema.js';

export interface NewKeyRecord {
  id: string;
  workspaceId: string;
  kind: 'regular' | 'admin';
  name: string;
  keyId: string;
  secretHash: string;
  scopes: string[];
  domainId: string | null;
  expiresAt: Date | null;
}

export async function insertKey(db: Db | Tx, key: NewKeyRecord): Promise<ApiKeyRow> {
  return db
    .insertInto('api_keys')
    .values({
      id: key.id,
      workspace_id: key.workspaceId,
      kind: key.kind,
      name: key.name,
      key_id: key.keyId,
      secret_hash: key.secretHash,
      scopes: key.scopes,
      domain_id: key.domainId,
      expires_at: key.expiresAt,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export type KeyWithWorkspace = ApiKeyRow & { plan: string; domain_name: string | null; track_opens_default: boolean; track_clicks_default: boolean };

export function findKeyByHash(db: Db, secretHash: string): Promise<KeyWithWorkspace | undefined> {
  return db
    .selectFrom('api_keys')
    .innerJoin('workspaces', 'workspaces.id', 'api_keys.workspace_id')
    .selectAll('api_keys')
    // the workspace's settings a send reads, cached with the key (KeyService)
    .select(['workspaces.plan', 'workspaces.track_opens_default', 'workspaces.track_clicks_default'])
    // the name of a domain never changes, so the key's cached form may carry it
    .select((eb) => eb.selectFrom('domains').select('domains.name').whereRef('domains.id', '=', 'api_keys.domain_id').as('domain_name'))
    .where('secret_hash', '=', secretHash)
    // a key tied to a custom domain dies with it, even one created while the domain was being deleted
    .where((eb) =>
      eb.or([
        eb('api_keys.domain_id', 'is', null),
        eb.exists(eb.selectFrom('domains').select('domains.id').whereRef('domains.id', '=', 'api_keys.domain_id').where('domains.deleted_at', 'is', null)),
      ]),
    )
    .executeTakeFirst();
}

export async function countActiveAdminKeys(db: Tx, workspaceId: string): Promise<number> {
  const row = await db
    .selectFrom('api_keys')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('workspace_id', '=', workspaceId)
    .where('kind', '=', 'admin')
    .where('revoked_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Regular (sending) keys that still work: not revoked, not expired. */
export async function countLiveRegularKeys(db: Tx, workspaceId: string, now: Date): Promise<number> {
  const row = await db
    .selectFrom('api_keys')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('workspace_id', '=', workspaceId)
    .where('kind', '=', 'regular')
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export function listKeys(db: Db, workspaceId: string): Promise<ApiKeyRow[]> {
  return db.selectFrom('api_keys').selectAll().where('workspace_id', '=', workspaceId).orderBy('created_at').execute();
}

export async function revokeKey(db: Db, workspaceId: string, id: string): Promise<boolean> {
  const res = await db
    .updateTable('api_keys')
    .set({ is_active: false, revoked_at: new Date() })
    .where('workspace_id', '=', workspaceId)
    .where((eb) => eb.or([eb(sql<string>`id::text`, '=', id), eb('key_id', '=', id)]))
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

export async function touchLastUsed(db: Db, id: string, at: Date): Promise<void> {
  await db.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).execute();
}

/** Revokes the sending keys tied to a domain (it was deleted); returns how many. */
export async function revokeKeysOfDomain(db: Db, workspaceId: string, domainId: string): Promise<number> {
  const res = await db
    .updateTable('api_keys')
    .set({ is_active: false, revoked_at: new Date() })
    .where('workspace_id', '=', workspaceId)
    .where('domain_id', '=', domainId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

export async function findKeyDomainId(db: Db, id: string): Promise<string | null> {
  const row = await db.selectFrom('api_keys').select('domain_id').where('id', '=', id).executeTakeFirst();
  return row?.domain_id ?? null;
}
