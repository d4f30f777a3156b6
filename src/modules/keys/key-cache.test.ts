import type { KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMigratedDatabase } from '../../../test/support/databases.js';
import { randomHex, sha256Hex } from '../../platform/crypto.js';
import type { Database } from '../../platform/db/database.js';
import { WorkspaceService } from '../workspaces/service.js';
import { KeyService } from './service.js';

// the production size is 10,000: the same flood at a tenth of the size shows the same eviction at a tenth of the cost
const CACHE_ENTRIES = 1000;

// the cache lives in the process, the same in front of either database: one backend is enough
describe('the API-key cache under a flood of made-up keys', () => {
  let opened: { database: Database; close(): Promise<void> };
  beforeAll(async () => {
    opened = await openMigratedDatabase('pglite');
  });
  afterAll(() => opened?.close());

  it('keeps a key in use: twice the cache size of well-formed unknown keys push out only each other', async () => {
    const db = opened.database.db;
    let queries = 0;
    const counting: KyselyPlugin = {
      transformQuery: (args) => {
        queries++;
        return args.node;
      },
      transformResult: async (args) => args.result,
    };
    const keys = new KeyService(db.withPlugin(counting), 100, CACHE_ENTRIES);
    const ws = await new WorkspaceService(db, new KeyService(db, 100), 'FREE').create({ name: 'Cache', plan: 'FREE' });
    const legit = (await keys.createRegularKey({ workspaceId: ws.workspace.id })).secretKey;
    const madeUp = () => `kms_${ws.workspace.id.replace(/-/g, '')}.live_${randomHex(32)}`;

    // one clock for the whole flood, so only eviction (not the two-second lifetime) can drop an entry
    const now = Date.now();
    expect(await keys.authenticate(legit, now)).toMatchObject({ workspaceId: ws.workspace.id });
    await new Promise((r) => setTimeout(r, 50)); // the first use's last_used_at write, fired and forgotten
    queries = 0;
    const firstMadeUp = madeUp();
    expect(await keys.authenticate(firstMadeUp, now)).toBeNull();
    const flood = 2 * CACHE_ENTRIES;
    for (let i = 1; i < flood; i++) {
      expect(await keys.authenticate(madeUp(), now)).toBeNull();
      if (i % 100 === 0) expect(await keys.authenticate(legit, now)).not.toBeNull();
    }
    expect(queries).toBe(flood); // one per made-up key; the key in use never went back to the database

    // revoked behind the cache's back: still answered from the cache within its lifetime, which shows it was there
    await db.updateTable('api_keys').set({ revoked_at: new Date() }).where('secret_hash', '=', sha256Hex(legit)).execute();
    expect(await keys.authenticate(legit, now + 1000)).not.toBeNull();
    expect(queries).toBe(flood);
    // bounded: the oldest made-up key was forgotten and costs a query again
    expect(await keys.authenticate(firstMadeUp, now)).toBeNull();
    expect(queries).toBe(flood + 1);
    // and the revocation is seen once the entry's two seconds are over
    expect(await keys.authenticate(legit, now + 2001)).toBeNull();
  });

  it('asks the database once for a key that many requests miss together, and each of them gets it', async () => {
    const db = opened.database.db;
    let lookups = 0;
    const counting: KyselyPlugin = {
      transformQuery: (args) => {
        if (args.node.kind === 'SelectQueryNode') lookups++;
        return args.node;
      },
      transformResult: async (args) => args.result,
    };
    const keys = new KeyService(db.withPlugin(counting), 100);
    const ws = await new WorkspaceService(db, new KeyService(db, 100), 'FREE').create({ name: 'Burst', plan: 'FREE' });
    const secret = (await keys.createRegularKey({ workspaceId: ws.workspace.id })).secretKey;
    const unknown = `kms_${ws.workspace.id.replace(/-/g, '')}.live_${randomHex(32)}`;
    lookups = 0;
    const now = Date.now();
    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => keys.authenticate(i % 2 === 0 ? secret : unknown, now)));
    expect(burst.filter((k) => k?.workspaceId === ws.workspace.id)).toHaveLength(10);
    expect(burst.filter((k) => k === null)).toHaveLength(10);
    expect(lookups).toBe(2); // one per distinct key
    // once answered, the next miss (the entry expired) asks again
    expect(await keys.authenticate(secret, now + 2001)).not.toBeNull();
    expect(lookups).toBe(3);
  });
});
