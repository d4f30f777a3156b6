import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openEmbedded, type Database } from '../../src/platform/db/database.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { migrationsKey } from './migrations-key.js';

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
  const file = path.join(os.tmpdir(), `${PREFIX}${await snapshotKey()}.tar`);
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
    await removeStaleSnapshots(path.basename(file));
    return new Blob([bytes], { type: TAR_TYPE });
  } finally {
    await database.close();
  }
}

/** Changes with any migration's name or text and with the PGlite version, whose files the archive holds. */
async function snapshotKey(): Promise<string> {
  const pglite = JSON.parse(await fs.readFile(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url), 'utf8')) as { version: string };
  return migrationsKey(pglite.version);
}

async function removeStaleSnapshots(keep: string): Promise<void> {
  const dir = os.tmpdir();
  for (const name of await fs.readdir(dir)) {
    if (name.startsWith(PREFIX) && name.endsWith('.tar') && name !== keep) await fs.rm(path.join(dir, name), { force: true });
  }
}
