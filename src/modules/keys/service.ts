import type { Plan } from '../../config/config.js';
import { constantTimeEqual, sha256Hex } from '../../platform/crypto.js';
import { inTransaction, type Db, type Tx } from '../../platform/db/database.js';
import { lockWorkspace } from '../../platform/db/workspace-lock.js';
import type { ApiKeyRow } from '../../platform/db/schema.js';
import { ApiError } from '../../platform/http/errors.js';
import { uuidv7 } from '../../platform/ids.js';
import { LruMap } from '../../platform/lru-map.js';
import { ADMIN_SCOPES, KEY_PATTERN, MAX_ADMIN_KEYS_PER_WORKSPACE, isAdminScope, mintKey, type KeyKind } from './key-format.js';
import * as store from './store.js';

export interface AuthenticatedKey {
  id: string;
  keyId: string;
  workspaceId: string;
  kind: KeyKind;
  scopes: string[];
  domainId: string | null;
  /** the custom domain a sending key is tied to (A-label form): it sees only that domain's emails */
  domainName: string | null;
  expiresAt: Date | null;
  plan: Plan;
  /** the workspace's tracking defaults, for a send that does not say (README, "Tracking") */
  tracking: { opens: boolean; clicks: boolean };
}

export interface CreatedKey {
  key: PublicKey;
  secretKey: string;
}

export interface PublicKey {
  id: string;
  key_id: string;
  name: string;
  kind: KeyKind;
  scopes: string[];
  domain_id: string | null;
  is_active: boolean;
  expires_at: string | null;
  last_used_at: string | null;
  created_at: string;
}

export function toPublicKey(row: ApiKeyRow): PublicKey {
  return {
    id: row.id,
    key_id: row.key_id,
    name: row.name,
    kind: row.kind,
    scopes: row.scopes,
    domain_id: row.domain_id,
    is_active: row.is_active && row.revoked_at === null,
    expires_at: row.expires_at?.toISOString() ?? null,
    last_used_at: row.last_used_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
  };
}

export class TooManyAdminKeysError extends ApiError {
  constructor() {
    super('CONFLICT', `A workspace may have at most ${MAX_ADMIN_KEYS_PER_WORKSPACE} admin API keys; revoke one first`);
  }
}

const CACHE_TTL_MS = 2000;
/** A key as cached: null for a secret that is no usable key, remembered as long as a found one. */
interface CachedKey {
  key: AuthenticatedKey | null;
  until: number;
}
const LAST_USED_EVERY_MS = 60_000;
/** Entries per cache. Least recently used ones make room, so a flood of made-up keys cannot push out the real ones. */
export const KEY_CACHE_ENTRIES = 10_000;

/**
 * Resolves bearer keys. Lookups are cached for two seconds per process, so a revocation reaches every API
 * process within that time without a database round trip on every request.
 */
export class KeyService {
  private readonly cache: LruMap<string, CachedKey>;
  /** lookups in flight, by key hash */
  private readonly lookups = new Map<string, Promise<CachedKey>>();
  private readonly lastTouched: LruMap<string, number>;
  private readonly keyDomains: LruMap<string, string | null>;

  /** `maxRegularKeys`: live sending keys per workspace (MAX_SENDING_KEYS_PER_WORKSPACE); `cacheEntries`: keys remembered per map. */
  constructor(
    private readonly db: Db,
    private readonly maxRegularKeys: number,
    cacheEntries = KEY_CACHE_ENTRIES,
  ) {
    this.cache = new LruMap(cacheEntries);
    this.lastTouched = new LruMap(cacheEntries);
    this.keyDomains = new LruMap(cacheEntries);
  }

  async authenticate(secret: string, now = Date.now()): Promise<AuthenticatedKey | null> {
    if (!KEY_PATTERN.test(secret)) return null;
    const hash = sha256Hex(secret);
    let entry = this.cache.get(hash);
    if (!entry || entry.until < now) entry = await this.lookUp(hash, now);
    const key = entry.key;
    if (!key || (key.expiresAt && key.expiresAt.getTime() <= now)) return null;
    this.recordUse(key.id, now);
    return key;
  }

  /**
   * One query per key at a time: the requests that miss together (a burst of them, or all those in flight when
   * the entry expires) share it instead of each asking the database. At most one per request in flight.
   */
  private lookUp(hash: string, now: number): Promise<CachedKey> {
    let pending = this.lookups.get(hash);
    if (!pending) {
      pending = store
        .findKeyByHash(this.db, hash)
        .then((row) => {
          const usable = row && constantTimeEqual(row.secret_hash, hash) && row.is_active && row.revoked_at === null;
          const entry: CachedKey = { key: usable ? toAuthenticated(row) : null, until: now + CACHE_TTL_MS };
          this.cache.set(hash, entry);
          return entry;
        })
        .finally(() => this.lookups.delete(hash));
      this.lookups.set(hash, pending);
    }
    return pending;
  }

  private recordUse(id: string, now: number): void {
    const last = this.lastTouched.get(id) ?? 0;
    if (now - last < LAST_USED_EVERY_MS) return;
    this.lastTouched.set(id, now);
    store.touchLastUsed(this.db, id, new Date(now)).catch(() => undefined);
  }

  forget(): void {
    this.cache.clear();
  }

  async createRegularKey(opts: { workspaceId: string; name?: string; domainId?: string | null; expiresAt?: Date | null }): Promise<CreatedKey> {
    const max = this.maxRegularKeys;
    return this.insertWithinCap(
      { workspaceId: opts.workspaceId, kind: 'regular', name: opts.name ?? 'Sending key', scopes: [], domainId: opts.domainId ?? null, expiresAt: opts.expiresAt ?? null },
      async (trx) => (await store.countLiveRegularKeys(trx, opts.workspaceId, new Date())) >= max,
      () => new ApiError('CONFLICT', `A workspace may have at most ${max} sending API key${max === 1 ? '' : 's'}; revoke one first`),
    );
  }

  async createAdminKey(opts: { workspaceId: string; name?: string; scopes?: string[]; expiresAt?: Date | null }): Promise<CreatedKey> {
    const scopes = opts.scopes ?? [...ADMIN_SCOPES];
    const unknown = scopes.filter((s) => !isAdminScope(s));
    if (unknown.length > 0) {
      throw new ApiError('VALIDATION_ERROR', `Unknown scope(s): ${unknown.join(', ')}. Valid scopes: ${ADMIN_SCOPES.join(', ')}`);
    }
    return this.insertWithinCap(
      { workspaceId: opts.workspaceId, kind: 'admin', name: opts.name ?? 'Admin key', scopes: [...new Set(scopes)], domainId: null, expiresAt: opts.expiresAt ?? null },
      async (trx) => (await store.countActiveAdminKeys(trx, opts.workspaceId)) >= MAX_ADMIN_KEYS_PER_WORKSPACE,
      () => new TooManyAdminKeysError(),
    );
  }

  /** Mints and stores a key unless the workspace is at its cap; the workspace row lock makes the count exact under races. */
  private async insertWithinCap(
    record: Omit<store.NewKeyRecord, 'id' | 'keyId' | 'secretHash'>,
    atCap: (trx: Tx) => Promise<boolean>,
    tooMany: () => ApiError,
  ): Promise<CreatedKey> {
    const minted = mintKey(record.workspaceId, record.kind);
    const row = await inTransaction(this.db, async (trx) => {
      if (!(await lockWorkspace(trx, record.workspaceId))) throw new ApiError('NOT_FOUND', `Workspace ${record.workspaceId} not found`);
      if (await atCap(trx)) throw tooMany();
      return store.insertKey(trx, { ...record, id: uuidv7(), keyId: minted.keyId, secretHash: sha256Hex(minted.secretKey) });
    });
    return { key: toPublicKey(row), secretKey: minted.secretKey };
  }

  async list(workspaceId: string): Promise<PublicKey[]> {
    return (await store.listKeys(this.db, workspaceId)).map(toPublicKey);
  }

  async revoke(workspaceId: string, id: string): Promise<boolean> {
    const done = await store.revokeKey(this.db, workspaceId, id);
    this.forget();
    return done;
  }

  /** Called when a custom domain is deleted: its sending keys stop working at once (authentication also checks). */
  async revokeDomainKeys(workspaceId: string, domainId: string): Promise<number> {
    const revoked = await store.revokeKeysOfDomain(this.db, workspaceId, domainId);
    this.forget();
    return revoked;
  }

  /** The custom domain a key is tied to; a key's domain never changes, so the answer is kept. */
  async domainIdOf(keyId: string): Promise<string | null> {
    const known = this.keyDomains.get(keyId);
    if (known !== undefined) return known;
    const domainId = await store.findKeyDomainId(this.db, keyId);
    this.keyDomains.set(keyId, domainId);
    return domainId;
  }
}

function toAuthenticated(row: store.KeyWithWorkspace): AuthenticatedKey {
  return {
    id: row.id,
    keyId: row.key_id,
    workspaceId: row.workspace_id,
    kind: row.kind,
    scopes: row.scopes,
    domainId: row.domain_id,
    domainName: row.domain_name,
    expiresAt: row.expires_at,
    plan: row.plan as Plan,
    tracking: { opens: row.track_opens_default, clicks: row.track_clicks_default },
  };
}
