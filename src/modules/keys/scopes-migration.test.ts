import fs from 'node:fs/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMigratedDatabase } from '../../../test/support/databases.js';
import type { Database } from '../../platform/db/database.js';
import { uuidv7 } from '../../platform/ids.js';

const MIGRATION = new URL('../../../migrations/004_email_and_template_scopes.sql', import.meta.url);
const OLD_SCOPES = ['contacts:read', 'contacts:write', 'audiences:manage', 'automations:read', 'automations:write', 'automations:trigger', 'domains:manage', 'api-keys:create'];

describe('migration 004: reading emails and changing templates became scopes', () => {
  let database: Database;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ database, close } = await openMigratedDatabase('pglite'));
  });
  afterAll(() => close?.());

  it('keeps every power of admin keys that had every scope, and grants nothing to narrower ones', async () => {
    const db = database.db;
    const workspace = uuidv7();
    await db.insertInto('workspaces').values({ id: workspace, name: 'w', plan: 'FREE' }).execute();
    const key = (scopes: string[]) => ({ id: uuidv7(), workspace_id: workspace, kind: 'admin' as const, name: 'k', key_id: uuidv7(), secret_hash: uuidv7(), scopes });
    const full = key(OLD_SCOPES);
    const narrow = key(['contacts:read']);
    await db.insertInto('api_keys').values([full, narrow]).execute();
    await sql.raw(await fs.readFile(MIGRATION, 'utf8')).execute(db);
    const scopes = async (id: string) => (await db.selectFrom('api_keys').select('scopes').where('id', '=', id).executeTakeFirstOrThrow()).scopes;
    expect(await scopes(full.id)).toEqual([...OLD_SCOPES, 'emails:read', 'templates:manage']);
    expect(await scopes(narrow.id)).toEqual(['contacts:read']);
  });
});
