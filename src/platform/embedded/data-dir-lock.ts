import fs from 'node:fs/promises';
import path from 'node:path';
import { pingAdminSocket } from './admin-socket.js';

export const LOCK_FILE = 'keplars.lock';
/** A lock younger than this whose owner is alive but not yet answering is a server still starting. */
const STARTING_GRACE_MS = 60_000;

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `The data folder ${dataDir} is in use by another keplars-server process (pid ${pid}). ` +
        'The embedded database allows one process only: stop that process, use another DATA_DIR, ' +
        'or use DATABASE_URL=postgres://… to run several processes.',
    );
    this.name = 'DataDirLockedError';
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return false; // a lock naming us was left by an earlier life with our pid
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface DataDirLock {
  release(): Promise<void>;
}

/**
 * PGlite takes no lock of its own, and a second process on the same folder silently loses writes. The lock
 * is a file naming its owner; a lock whose owner died (SIGKILL, power loss) is recognised and taken over,
 * so a crash never blocks the next start.
 */
export async function acquireDataDirLock(dataDir: string): Promise<DataDirLock> {
  await fs.mkdir(dataDir, { recursive: true });
  const file = path.join(dataDir, LOCK_FILE);
  for (let tries = 0; tries < 5; tries++) {
    try {
      const handle = await fs.open(file, 'wx', 0o600);
      await handle.writeFile(JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() }));
      await handle.close();
      return {
        release: async () => {
          const owner = await readOwner(file);
          if (owner?.pid === process.pid) await fs.rm(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readOwner(file);
    if (owner && isAlive(owner.pid)) {
      const answering = await pingAdminSocket(dataDir);
      const stat = await fs.stat(file).catch(() => null);
      const young = stat !== null && Date.now() - stat.mtimeMs < STARTING_GRACE_MS;
      // pid alive but nothing answers on an old lock: the pid was reused by an unrelated process
      if (answering !== null || young) throw new DataDirLockedError(dataDir, owner.pid);
    }
    // stale: move it aside atomically so two starters cannot both delete a fresh lock
    const aside = `${file}.stale-${process.pid}`;
    if (await fs.rename(file, aside).then(() => true, () => false)) {
      const moved = await readOwner(aside);
      if (moved && moved.pid !== owner?.pid && isAlive(moved.pid)) {
        // another starter replaced the stale lock between our read and our rename: give it back
        await fs.rename(aside, file);
        throw new DataDirLockedError(dataDir, moved.pid);
      }
      await fs.rm(aside, { force: true });
    }
  }
  throw new Error(`Could not take the lock on ${dataDir}`);
}

async function readOwner(file: string): Promise<{ pid: number } | null> {
  try {
    const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as { pid?: unknown };
    return typeof parsed.pid === 'number' ? { pid: parsed.pid } : { pid: -1 };
  } catch {
    return null;
  }
}
