import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { listMigrations } from '../../src/platform/db/migrate.js';

/** A short name for the current set of migrations (and anything else given): it changes with any migration's name or text. */
export async function migrationsKey(...also: string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const part of also) hash.update(`${part}\0`);
  for (const m of await listMigrations()) hash.update(`\0${m.name}\0${m.sql}`);
  return hash.digest('hex').slice(0, 16);
}

/** The PGlite version, part of the key of anything holding its files: another version may not read them. */
export async function pgliteVersion(): Promise<string> {
  const pkg = JSON.parse(await fs.readFile(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * Removes what earlier runs left in the temporary folder under `prefix` for other keys (older migrations or PGlite
 * versions, or an interrupted build). Entries naming `key` stay: another worker may be building them right now.
 */
export async function removeOtherKeys(prefix: string, key: string): Promise<void> {
  const dir = os.tmpdir();
  for (const name of await fs.readdir(dir)) {
    if (name.startsWith(prefix) && !name.includes(key)) await fs.rm(path.join(dir, name), { recursive: true, force: true });
  }
}
