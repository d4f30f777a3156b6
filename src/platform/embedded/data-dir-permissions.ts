import fs from 'node:fs/promises';
import path from 'node:path';

/** New files owner-only (0600) and folders 0700, whoever creates them (PGlite asks for 0666 and 0755). */
export const PRIVATE_UMASK = 0o077;

/**
 * The data folder holds the write-ahead log, which carries the URL-signing secret and email bodies, and
 * secret.key: nobody but its owner may read it. Sets the process umask so everything created from now on
 * (by this process and the children it starts, such as PGlite's initdb) is owner-only, creates the folder
 * 0700, and removes group and other permissions from whatever already exists in it (a folder made by an
 * earlier version). Returns the paths it tightened, relative to the folder ("." for the folder itself),
 * shallowest first.
 */
export async function makeDataDirPrivate(dataDir: string): Promise<string[]> {
  process.umask(PRIVATE_UMASK);
  await fs.mkdir(path.dirname(dataDir), { recursive: true });
  await fs.mkdir(dataDir, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  const tightened: string[] = [];
  const pending = [dataDir];
  for (let current = pending.pop(); current !== undefined; current = pending.pop()) {
    const stat = await fs.lstat(current).catch(() => null);
    // a symbolic link's own mode means nothing and chmod would follow it out of the folder
    if (!stat || stat.isSymbolicLink()) continue;
    if ((stat.mode & 0o077) !== 0) {
      await fs.chmod(current, stat.mode & 0o700);
      tightened.push(path.relative(dataDir, current) || '.');
    }
    if (stat.isDirectory()) for (const name of await fs.readdir(current)) pending.push(path.join(current, name));
  }
  // the folder and its own entries first: they are what a warning that names only some should name
  const depth = (p: string) => (p === '.' ? 0 : p.split(path.sep).length);
  return tightened.sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0));
}
