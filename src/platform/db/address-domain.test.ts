import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMigratedDatabase } from '../../../test/support/databases.js';
import { addressWithinDomain } from './address-domain.js';
import type { Database } from './database.js';

describe('addressWithinDomain', () => {
  let database: Database;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ database, close } = await openMigratedDatabase('pglite'));
  });
  afterAll(() => close?.());

  const matches = async (address: string, domain: string): Promise<boolean> => {
    const res = await sql<{ hit: boolean }>`SELECT ${addressWithinDomain('a', domain)} AS hit FROM (SELECT ${address}::text AS a) t`.execute(database.db);
    return res.rows[0]!.hit;
  };

  it('matches the domain and names below it, case-insensitively, and nothing that merely ends like it', async () => {
    expect(await matches('news@alpha.test', 'alpha.test')).toBe(true);
    expect(await matches('news@Mail.ALPHA.test', 'alpha.test')).toBe(true);
    expect(await matches('news@evilalpha.test', 'alpha.test')).toBe(false);
    expect(await matches('news@alpha.test.evil', 'alpha.test')).toBe(false);
    expect(await matches('alpha.test@beta.test', 'alpha.test')).toBe(false);
  });

  it('treats `_` literally and matches both forms of an internationalised domain', async () => {
    expect(await matches('x@a_b.test', 'a_b.test')).toBe(true);
    expect(await matches('x@axb.test', 'a_b.test')).toBe(false);
    expect(await matches('x@bücher.example', 'xn--bcher-kva.example')).toBe(true);
    expect(await matches('x@xn--bcher-kva.example', 'xn--bcher-kva.example')).toBe(true);
  });
});
