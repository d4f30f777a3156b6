import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openEmbedded } from '../../src/platform/db/database.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { migrationsKey, pgliteVersion, removeOtherKeys } from './migrated-cache.js';

const PREFIX = 'keplars-test-datadir-';

let template: Promise<string> | undefined;

/**
 * A new, empty-looking data folder (DATA_DIR) whose database is already initialised and migrated, as a first start
 * leaves it. For tests of what comes after the first start: initialising a data folder costs 8–10 s of a two-core
 * machine, and the tests of the first start itself (first-boot, data-dir-permissions) still make theirs from nothing.
 * Only the database's files are copied; everything else in the folder is made by the server as usual.
 */
export async function initialisedDataDir(prefix: string): Promise<string> {
  const source = await (template ??= makeTemplate());
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  await fs.cp(source, path.join(dir, 'pgdata'), { recursive: true });
  return dir;
}

/** The migrated pgdata, made once per set of migrations in the temporary folder and shared by the suite's workers. */
async function makeTemplate(): Promise<string> {
  const key = await migrationsKey(await pgliteVersion());
  const pgdata = path.join(os.tmpdir(), `${PREFIX}${key}`);
  if (await exists(path.join(pgdata, 'PG_VERSION'))) return pgdata;
  const building = await fs.mkdtemp(`${pgdata}-building-`);
  const database = await openEmbedded(building);
  try {
    await migrate(database.db);
  } finally {
    await database.close();
  }
  // renamed into place once whole; a worker that lost the race keeps the one already there
  await fs.rename(path.join(building, 'pgdata'), pgdata).catch(async (err: unknown) => {
    if (!(await exists(path.join(pgdata, 'PG_VERSION')))) throw err;
  });
  await fs.rm(building, { recursive: true, force: true });
  await removeOtherKeys(PREFIX, key);
  return pgdata;
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
