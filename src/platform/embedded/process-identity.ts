import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';

/**
 * When a process started, as a string comparable with a later reading: it tells one life of a pid from the
 * next, so a lock naming a pid that the system has since given to another process is recognised.
 * `proc:<ticks>` is field 22 of /proc/<pid>/stat (clock ticks since boot, Linux); `ps:<time>` is what
 * `ps -o lstart=` says (to the second) where /proc is missing. Readings of different kinds are not comparable.
 */
export type StartKind = 'proc' | 'ps';

const PS_TIMEOUT_MS = 2000;

/** Whether a process with this pid exists (one of another user counts: it exists, we may not signal it). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function startFromProc(pid: number): Promise<string | null> {
  let stat: string;
  try {
    stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // field 2 is the command name in parentheses and may itself hold spaces and parentheses: count after the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = fields[22 - 3];
  return ticks !== undefined && /^\d+$/.test(ticks) ? `proc:${ticks}` : null;
}

function startFromPs(pid: number): Promise<string | null> {
  return new Promise((resolve) => {
    // a fixed zone and locale so that two readings of the same process print the same text
    execFile('ps', ['-o', 'lstart=', '-p', String(pid)], { timeout: PS_TIMEOUT_MS, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TZ: 'UTC', LC_ALL: 'C' } }, (err, stdout) => {
      const text = String(stdout).trim().replace(/\s+/g, ' ');
      resolve(err || text === '' ? null : `ps:${text}`);
    });
  });
}

/** The start of a process read the given way, or null when it cannot be read (no such process, no /proc, no ps). */
export function processStartAs(pid: number, kind: StartKind): Promise<string | null> {
  if (!Number.isInteger(pid) || pid <= 0) return Promise.resolve(null);
  return kind === 'proc' ? startFromProc(pid) : startFromPs(pid);
}

/** The start of a process, read the best way this system offers. */
export async function processStart(pid: number): Promise<string | null> {
  return (await startFromProc(pid)) ?? (await startFromPs(pid));
}

export function startKindOf(start: string): StartKind | null {
  if (start.startsWith('proc:')) return 'proc';
  if (start.startsWith('ps:')) return 'ps';
  return null;
}

let bootIdCache: Promise<string | null> | null = null;

/** Linux's id of the current boot: clock ticks since boot restart at every boot, so a start is compared within one boot. */
export function currentBootId(): Promise<string | null> {
  bootIdCache ??= fs.readFile('/proc/sys/kernel/random/boot_id', 'utf8').then(
    (text) => text.trim() || null,
    () => null,
  );
  return bootIdCache;
}
