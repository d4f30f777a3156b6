import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openEmbedded, type Database } from '../../src/platform/db/database.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { migrationsKey, pgliteVersion, removeOtherKeys } from './migrated-cache.js';

const TAR_TYPE = 'application/x-tar';
const PREFIX = 'keplars-test-pglite-';

let snapshot: Promise<Blob> | undefined;

/**
 * A fresh in-memory embedded database with every migration applied. A new PGlite cluster costs 3–5 s of initdb on
 * a two-core machine and hundreds of tests open one, so each starts from a migrated snapshot instead (under 1 s).
 * The snapshot is made once per set of migrations and kept in the temporary folder, shared by the suite's workers.
 */
export async function openMigratedEmbedded(): Promise<Database> {
  return openEmbedded(undefined, { snapshot: await (snapshot ??= loadOrMakeSnapshot()) });
}

async function loadOrMakeSnapshot(): Promise<Blob> {
  const key = await migrationsKey(await pgliteVersion());
  const file = path.join(os.tmpdir(), `${PREFIX}${key}.tar`);
  try {
    return new Blob([await fs.readFile(file)], { type: TAR_TYPE });
  } catch {
    // not made yet for these migrations
  }
  const database = await openEmbedded(undefined);
  try {
    await migrate(database.db);
    const dumped = await database.dump!();
    const bytes = Buffer.from(await dumped.arrayBuffer());
    // written aside and renamed, so a worker reading it never sees half a file while another writes it
    const partial = `${file}.${process.pid}.partial`;
    await fs.writeFile(partial, bytes, { mode: 0o600 });
    await fs.rename(partial, file);
    await removeOtherKeys(PREFIX, key);
    return new Blob([bytes], { type: TAR_TYPE });
  } finally {
    await database.close();
  }
}
