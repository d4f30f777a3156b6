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

describe('migration 011: managing the suppression list became a scope', () => {
  let database: Database;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ database, close } = await openMigratedDatabase('pglite'));
  });
  afterAll(() => close?.());

  it('grants suppressions:manage to admin keys that had every scope, and to no narrower one', async () => {
    const db = database.db;
    const workspace = uuidv7();
    await db.insertInto('workspaces').values({ id: workspace, name: 'w', plan: 'FREE' }).execute();
    const before = [...OLD_SCOPES, 'emails:read', 'templates:manage'];
    const key = (scopes: string[]) => ({ id: uuidv7(), workspace_id: workspace, kind: 'admin' as const, name: 'k', key_id: uuidv7(), secret_hash: uuidv7(), scopes });
    const full = key(before);
    const narrow = key(['emails:read']);
    await db.insertInto('api_keys').values([full, narrow]).execute();
    // only the grant: the rest of the migration already ran when the database was opened
    const migration = await fs.readFile(new URL('../../../migrations/011_bounces.sql', import.meta.url), 'utf8');
    const grant = /UPDATE api_keys[\s\S]*?;/.exec(migration)![0];
    await sql.raw(grant).execute(db);
    await sql.raw(grant).execute(db);
    const scopes = async (id: string) => (await db.selectFrom('api_keys').select('scopes').where('id', '=', id).executeTakeFirstOrThrow()).scopes;
    expect(await scopes(full.id)).toEqual([...before, 'suppressions:manage']);
    expect(await scopes(narrow.id)).toEqual(['emails:read']);
  });
});
