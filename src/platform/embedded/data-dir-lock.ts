import fs from 'node:fs/promises';
import path from 'node:path';
import { currentBootId, isProcessAlive, processStart, processStartAs, startKindOf } from './process-identity.js';

export const LOCK_FILE = 'keplars.lock';

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

/** What the lock file records about its owner. */
export interface LockOwner {
  pid: number;
  /** when the owner started (see process-identity.ts); null in locks written before it was recorded */
  start: string | null;
  /** the boot the start was read in (Linux), null where unknown */
  boot: string | null;
}

export interface DataDirLock {
  release(): Promise<void>;
}

/** This process as a lock owner. */
export async function describeProcess(pid: number): Promise<LockOwner> {
  return { pid, start: await processStart(pid), boot: await currentBootId() };
}

/**
 * Whether the lock's owner still holds it. A lock held by a live process is never stale, however busy that
 * process is (a stalled server that lost its lock had a second process open the same database): only a dead
 * owner, or a pid now used by another process (another start time, or another boot), frees it.
 */
export async function ownerHoldsLock(owner: LockOwner): Promise<boolean> {
  if (owner.pid !== process.pid && !isProcessAlive(owner.pid)) return false;
  const boot = await currentBootId();
  if (owner.boot !== null && boot !== null && owner.boot !== boot) return false;
  const kind = owner.start === null ? null : startKindOf(owner.start);
  // our own pid is either this very process or an earlier life of the pid that died without releasing
  if (owner.pid === process.pid) return kind !== null && (await processStartAs(process.pid, kind)) === owner.start;
  // a live pid whose start cannot be compared (an older lock, no /proc and no ps): it may be the owner, so it is
  if (kind === null) return true;
  const now = await processStartAs(owner.pid, kind);
  return now === null || now === owner.start;
}

/**
 * PGlite takes no lock of its own, and a second process on the same folder silently loses writes. The lock
 * is a file naming its owner; a lock whose owner died (SIGKILL, power loss) is recognised and taken over,
 * so a crash never blocks the next start.
 */
export async function acquireDataDirLock(dataDir: string): Promise<DataDirLock> {
  await fs.mkdir(path.dirname(dataDir), { recursive: true });
  await fs.mkdir(dataDir, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  const file = path.join(dataDir, LOCK_FILE);
  const me = await describeProcess(process.pid);
  const text = JSON.stringify({ ...me, startedAt: new Date().toISOString() });
  for (let tries = 0; tries < 5; tries++) {
    if (await createWithContent(file, text)) {
      return {
        release: async () => {
          if ((await readLock(file))?.text === text) await fs.rm(file, { force: true });
        },
      };
    }
    const found = await readLock(file);
    if (found && (await ownerHoldsLock(found.owner))) throw new DataDirLockedError(dataDir, found.owner.pid);
    // stale: move it aside atomically so two starters cannot both delete a fresh lock
    const aside = `${file}.stale-${process.pid}`;
    if (await fs.rename(file, aside).then(() => true, () => false)) {
      const moved = await readLock(aside);
      if (moved && moved.text !== found?.text && (await ownerHoldsLock(moved.owner))) {
        // another starter replaced the stale lock between our read and our rename: give it back
        await fs.rename(aside, file);
        throw new DataDirLockedError(dataDir, moved.owner.pid);
      }
      await fs.rm(aside, { force: true });
    }
  }
  throw new Error(`Could not take the lock on ${dataDir}`);
}

/** Creates the lock with its content in one step (a hard link fails if the name exists), so no reader sees it empty. */
async function createWithContent(file: string, text: string): Promise<boolean> {
  const draft = `${file}.new-${process.pid}`;
  await fs.writeFile(draft, text, { mode: 0o600 });
  try {
    await fs.link(draft, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    // a file system without hard links: exclusive create, then write (a reader that sees it empty re-checks it)
    return createExclusive(file, text);
  } finally {
    await fs.rm(draft, { force: true });
  }
}

async function createExclusive(file: string, text: string): Promise<boolean> {
  let handle;
  try {
    handle = await fs.open(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
  return true;
}

/** The lock's owner; a file that is not a lock this server wrote names nobody (pid 0), so it is stale. */
async function readLock(file: string): Promise<{ owner: LockOwner; text: string } | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return null;
  }
  let parsed: { pid?: unknown; start?: unknown; boot?: unknown } = {};
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    // garbage: pid 0 below
  }
  const pid = typeof parsed.pid === 'number' && Number.isInteger(parsed.pid) && parsed.pid > 0 ? parsed.pid : 0;
  const start = typeof parsed.start === 'string' ? parsed.start : null;
  const boot = typeof parsed.boot === 'string' ? parsed.boot : null;
  return { owner: { pid, start, boot }, text };
}
