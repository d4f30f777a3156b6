import type { Config } from '../config/config.js';
import { openDatabase } from '../app/app.js';
import type { Database, Warn } from '../platform/db/database.js';
import { pingAdminSocket } from '../platform/embedded/admin-socket.js';
import { DataDirLockedError, type DataDirLock } from '../platform/embedded/data-dir-lock.js';

/** How a CLI command reaches the embedded database: through the server that owns it, or by opening it. */
export type DataDirAccess = { via: 'server'; pid: number } | { via: 'database'; database: Database; lock: DataDirLock };

/** Between two looks at a busy server; each look also waits up to the ping's own 2 s. */
const RETRY_EVERY_MS = 500;

/** The server that owns the data folder did not answer in time; nothing was done. */
export class ServerBusyError extends Error {
  constructor(dataDir: string, pid: number, waitSeconds: number) {
    super(
      `The keplars-server process (pid ${pid}) that holds ${dataDir} did not answer on its admin socket within ${waitSeconds} s, ` +
        'so nothing was done: the embedded database is never opened under a running server. Try again when it is less busy, ' +
        'wait longer (--wait SECONDS or CLI_WAIT_SECONDS), or stop that process.',
    );
    this.name = 'ServerBusyError';
  }
}

/**
 * A running embedded server owns its data folder: ask it through the admin socket. When nothing answers, take
 * the lock and open the database; when the lock belongs to a live server that does not answer (busy, or
 * still starting), say so and keep trying until `waitSeconds` have passed. A live owner never loses its lock,
 * so this never opens the database under it.
 */
export async function reachDataDir(config: Config, opts: { waitSeconds: number; say(line: string): void; warn: Warn }): Promise<DataDirAccess> {
  const deadline = Date.now() + opts.waitSeconds * 1000;
  let announced = false;
  for (;;) {
    const pid = await pingAdminSocket(config.dataDir);
    if (pid !== null) return { via: 'server', pid };
    try {
      const { database, lock } = await openDatabase(config, { warn: opts.warn, note: (_detail, message) => opts.say(message) });
      if (lock) return { via: 'database', database, lock };
      await database.close();
      throw new Error('reachDataDir is for the embedded database; DATABASE_URL is set');
    } catch (err) {
      if (!(err instanceof DataDirLockedError)) throw err;
      if (!announced && opts.waitSeconds > 0) {
        opts.say(`The server (pid ${err.pid}) that holds ${config.dataDir} is busy or starting; waiting up to ${opts.waitSeconds} s for it to answer…`);
        announced = true;
      }
      if (Date.now() >= deadline) throw new ServerBusyError(config.dataDir, err.pid, opts.waitSeconds);
      await new Promise((r) => setTimeout(r, Math.min(RETRY_EVERY_MS, Math.max(0, deadline - Date.now()))));
    }
  }
}
