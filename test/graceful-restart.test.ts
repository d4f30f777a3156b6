import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { startApp, type Roles, type RunningApp } from '../src/app/app.js';
import { createLogger } from '../src/platform/logger.js';
import { call, waitFor } from './support/app.js';
import { BACKENDS, createPostgresDatabase, type Backend, type TestPostgres } from './support/databases.js';
import { startSmtpSink, type ReceivedMessage, type SmtpSink } from './support/smtp-sink.js';
import { initialisedDataDir } from './support/data-dirs.js';

const messageIdOf = (m: ReceivedMessage): string => /^Message-ID:\s*<([^@>]+)@/im.exec(m.raw.toString('utf8'))?.[1] ?? '';

describe.each(BACKENDS)('a graceful restart on %s', (backend: Backend) => {
  let sink: SmtpSink;
  let pg: TestPostgres | null = null;
  let dataDir: string | null = null;
  let env: Record<string, string>;

  beforeAll(async () => {
    sink = await startSmtpSink();
    if (backend === 'postgres') pg = await createPostgresDatabase();
    else dataDir = await initialisedDataDir('keplars-restart-');
    env = {
      PORT: '0',
      LOG_LEVEL: 'silent',
      SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
      // short, so a message sent but not recorded would be sent again well within the test
      DELIVERY_LEASE_MS: '2000',
      ...(pg ? { DATABASE_URL: pg.url } : { DATA_DIR: dataDir! }),
    };
  });
  afterAll(async () => {
    await sink?.close();
    await pg?.drop();
    if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
  });

  // the real way the server opens its database (a data folder and its lock on the embedded one)
  const start = (roles: Roles): Promise<RunningApp> => startApp({ config: loadConfig(env), roles, logger: createLogger('silent') });

  it('records every delivery made before the stop, and sends none of them twice', async () => {
    const first = await start({ api: true, worker: true });
    const ws = await first.services.workspaces.create({ name: 'Restart', plan: 'ENTERPRISE' });
    const key = (await first.services.keys.createRegularKey({ workspaceId: ws.workspace.id, name: 'restart' })).secretKey;
    sink.setDelay(30); // many deliveries in flight at the moment of the stop
    const ids: string[] = [];
    for (let batch = 0; batch < 6; batch++) {
      const sent = await Promise.all(Array.from({ length: 50 }, (_, i) => call(`${first.url}/api/v1/send-email/bulk`, { key, body: { to: `r${batch}-${i}@example.test`, subject: 'restart', body: 'x' } })));
      for (const r of sent) ids.push(r.body.id as string);
    }
    await sink.waitFor(60, 20_000);
    await first.close(); // results of the deliveries still in flight are written in the background
    sink.setDelay(0);
    const deliveredBeforeStop = new Set(sink.messages.map(messageIdOf));
    expect(deliveredBeforeStop.size).toBeGreaterThanOrEqual(60);

    // what the database says after the stop, before any worker runs again
    const reader = await start({ api: true, worker: false });
    const rows = await reader.services.database.db.selectFrom('messages').select(['id', 'status']).where('id', 'in', [...deliveredBeforeStop]).execute();
    await reader.close();
    expect(rows.filter((r) => r.status === 'sent').map((r) => r.id).sort()).toEqual([...deliveredBeforeStop].sort());

    const second = await start({ api: true, worker: true });
    try {
      await waitFor(async () => new Set(sink.messages.map(messageIdOf)).size >= ids.length, { timeoutMs: 30_000, what: 'every email delivered' });
      // long enough for a lease of an unrecorded message to lapse and be claimed again, had one been left
      await new Promise((r) => setTimeout(r, 3000));
      const counts = new Map<string, number>();
      for (const m of sink.messages) counts.set(messageIdOf(m), (counts.get(messageIdOf(m)) ?? 0) + 1);
      expect([...counts.values()].filter((n) => n > 1)).toEqual([]);
      expect(counts.size).toBe(ids.length);
      const events = await second.services.database.db
        .selectFrom('message_events')
        .select((eb) => ['message_id', eb.fn.countAll<string>().as('n')])
        .where('type', '=', 'sent')
        .groupBy('message_id')
        .execute();
      expect(events.filter((e) => Number(e.n) !== 1)).toEqual([]);
      expect(events).toHaveLength(ids.length);
    } finally {
      await second.close();
    }
  }, 90_000);
});
