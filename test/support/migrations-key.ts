import { createHash } from 'node:crypto';
import { listMigrations } from '../../src/platform/db/migrate.js';

/** A short name for the current set of migrations (and anything else given): it changes with any migration's name or text. */
export async function migrationsKey(...also: string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const part of also) hash.update(`${part}\0`);
  for (const m of await listMigrations()) hash.update(`\0${m.name}\0${m.sql}`);
  return hash.digest('hex').slice(0, 16);
}
