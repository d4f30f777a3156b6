import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { startApp } from '../src/app/app.js';
import type { Database } from '../src/platform/db/database.js';
import { captureLog } from './support/log-capture.js';
import { openMigratedEmbedded } from './support/embedded-snapshot.js';

// Opening connections ahead of the first work is only a head start (README, "Priority tiers and the queue"): a
// server whose warm-up fails starts all the same and says so.
describe('a server whose connection warm-up fails', () => {
  it('starts, answers, and logs a warning', async () => {
    const embedded = await openMigratedEmbedded();
    const asked: number[] = [];
    const database: Database = {
      ...embedded,
      warm: async (connections) => {
        asked.push(connections);
        throw new Error('permission denied for table elsewhere');
      },
    };
    const log = captureLog('warn');
    const app = await startApp({ config: loadConfig({ PORT: '0', HOST: '127.0.0.1' }), roles: { api: true, worker: false, inbound: false }, database, logger: log.logger });
    try {
      expect(asked).toEqual([8]);
      const res = await fetch(`${app.url}/health`);
      expect(res.status).toBe(200);
      expect(log.lines().some((l) => String(l.msg).includes('could not open the database connections ahead'))).toBe(true);
    } finally {
      await app.close();
      await embedded.close();
    }
  });
});
