import fs from 'node:fs/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMigratedDatabase } from '../../../test/support/databases.js';
import type { Database } from '../../platform/db/database.js';
import { uuidv7 } from '../../platform/ids.js';
import { ADMIN_SCOPES } from '../keys/words.js';
import { nextRetryAt, RETRY_SCHEDULE_MS } from './dispatcher.js';

const MIGRATION = new URL('../../../migrations/008_webhooks.sql', import.meta.url);
const BEFORE = ADMIN_SCOPES.filter((s) => s !== 'webhooks:manage');

describe('migration 008: managing webhooks became a scope', () => {
  let database: Database;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ database, close } = await openMigratedDatabase('pglite'));
  });
  afterAll(() => close?.());

  it('grants it to admin keys that had every scope, and to no narrower one', async () => {
    const db = database.db;
    const workspace = uuidv7();
    await db.insertInto('workspaces').values({ id: workspace, name: 'w', plan: 'FREE' }).execute();
    const key = (scopes: string[]) => ({ id: uuidv7(), workspace_id: workspace, kind: 'admin' as const, name: 'k', key_id: uuidv7(), secret_hash: uuidv7(), scopes });
    const full = key(BEFORE);
    const narrow = key(['domains:manage']);
    await db.insertInto('api_keys').values([full, narrow]).execute();
    // only the grant: the tables and triggers already exist in this database
    const text = await fs.readFile(MIGRATION, 'utf8');
    await sql.raw(text.slice(text.lastIndexOf('UPDATE api_keys'))).execute(db);
    const scopes = async (id: string) => (await db.selectFrom('api_keys').select('scopes').where('id', '=', id).executeTakeFirstOrThrow()).scopes;
    expect(await scopes(full.id)).toEqual([...BEFORE, 'webhooks:manage']);
    expect(await scopes(narrow.id)).toEqual(['domains:manage']);
  });
});

describe('the retry schedule', () => {
  it('waits 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h and 24 h, scaled, then gives up', () => {
    const now = 1_000_000;
    const waits = RETRY_SCHEDULE_MS.map((_, i) => nextRetryAt(i + 1, 1, now)!.getTime() - now);
    expect(waits).toEqual([5, 30, 120, 600, 1800, 3600, 7200, 14_400, 28_800, 86_400].map((s) => s * 1000));
    expect(nextRetryAt(2, 0.001, now)!.getTime() - now).toBe(30);
    expect(nextRetryAt(11, 1, now)).toBeNull();
  });
});
