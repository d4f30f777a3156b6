import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { startApp, type RunningApp } from '../src/app/app.js';
import { createLogger } from '../src/platform/logger.js';
import { call, startTestApp, waitFor } from './support/app.js';
import { createPostgresDatabase, POSTGRES_ADMIN_URL, type TestPostgres } from './support/databases.js';
import { runCli, startServerProcess, type ServerProcess } from './support/processes.js';
import { startSmtpSink, type SmtpSink } from './support/smtp-sink.js';
import { startTcpProxy, type CutMode, type TcpProxy } from './support/tcp-proxy.js';

const target = () => {
  const u = new URL(POSTGRES_ADMIN_URL);
  return { host: u.hostname, port: Number(u.port || 5432) };
};
const subjectOf = (raw: Buffer): string => /^Subject: (.*)$/m.exec(raw.toString('utf8'))?.[1]?.trim() ?? '';

describe('PostgreSQL outage between the app and its database', () => {
  let pg: TestPostgres;
  let sink: SmtpSink;
  let proxy: TcpProxy;
  const apps: RunningApp[] = [];

  beforeAll(async () => {
    pg = await createPostgresDatabase();
    sink = await startSmtpSink();
  });
  afterEach(async () => {
    proxy?.restore();
    await Promise.all(apps.splice(0).map((a) => a.close()));
    await proxy?.close();
  });
  afterAll(async () => {
    await sink?.close();
    await pg?.drop();
  });

  /** An api process and a separate worker process (in-process apps, each with its own pool and LISTEN connection), both through the proxy. */
  async function startApiAndWorker(): Promise<{ api: RunningApp; worker: RunningApp; key: string; workerLog: string[] }> {
    proxy = await startTcpProxy(target());
    const config = () =>
      loadConfig({
        DATABASE_URL: proxy.via(pg.url),
        SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        // the default 30 s statement timeout: a request waiting on a lost answer is failed by the probe's verdict
        DATABASE_CONNECT_TIMEOUT_MS: '1000',
        DATABASE_PROBE_INTERVAL_MS: '300',
        // no polling to speak of: only a NOTIFY through the LISTEN connection can wake this worker
        DELIVERY_POLL_MS: '600000',
      });
    const api = await startApp({ config: config(), roles: { api: true, worker: false }, logger: createLogger('silent') });
    apps.push(api);
    const workerLog: string[] = [];
    const capture = new Writable({ write: (chunk: Buffer, _enc, done) => (workerLog.push((JSON.parse(chunk.toString()) as { msg: string }).msg), done()) });
    const worker = await startApp({ config: config(), roles: { api: false, worker: true }, logger: pino({ level: 'info' }, capture) });
    apps.push(worker);
    const ws = await api.services.workspaces.create({ name: 'Outage', plan: 'ENTERPRISE' });
    const key = (await api.services.keys.createRegularKey({ workspaceId: ws.workspace.id, name: 'outage' })).secretKey;
    return { api, worker, key, workerLog };
  }

  const send = (api: RunningApp, key: string, subject: string) => call(`${api.url}/api/v1/send-email/instant`, { key, body: { to: 'someone@example.test', subject, body: 'x' } });

  it.each(['blackhole', 'reset'] as CutMode[])('%s: sends answer 503 and /ready says 503 while cut; afterwards sends work and LISTEN wakes the worker again', async (mode) => {
    const { api, worker, key, workerLog } = await startApiAndWorker();
    const before = await send(api, key, `before ${mode}`);
    expect(before.status).toBe(200);
    await waitFor(async () => sink.messages.some((m) => subjectOf(m.raw) === `before ${mode}`), { what: 'delivery woken by NOTIFY' });

    proxy.cut(mode);
    const started = Date.now();
    const during = await send(api, key, `during ${mode}`);
    const tookMs = Date.now() - started;
    expect(during.status).toBe(503);
    expect(during.body).toMatchObject({ success: false, error: 'SERVICE_UNAVAILABLE', code: 'SERVICE_UNAVAILABLE' });
    expect(during.headers.get('retry-after')).toBe('5');
    // the probe finds the database gone within 1.3 s and fails what waits on it; without that the request
    // would wait out the 31 s read timeout, and without any bound forever
    expect(tookMs).toBeLessThan(10_000);

    const notReady = await waitFor(async () => {
      const r = await call(`${api.url}/ready`);
      return r.status === 503 ? r : null;
    }, { what: '/ready answering 503' });
    expect(notReady.body).toMatchObject({ success: false, code: 'SERVICE_UNAVAILABLE' });
    const health = await call(`${api.url}/health`);
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', database: 'postgres', database_state: 'down' });
    // known to be down: the next request fails at once instead of waiting out a timeout
    expect((await send(api, key, `during ${mode} again`)).status).toBe(503);

    // the worker's own probe sees the outage too (it runs on its own timer)
    await waitFor(async () => worker.services.database.health?.().state === 'down', { what: 'the worker noticing the outage' });

    proxy.restore();
    await waitFor(async () => (await call(`${api.url}/ready`)).status === 200, { what: '/ready back to 200' });
    await waitFor(async () => worker.services.database.health?.().state === 'up', { what: 'the worker reconnected' });
    const first = await send(api, key, `after ${mode}`);
    expect(first.status).toBe(200);
    await waitFor(async () => (await call(`${api.url}/api/v1/public/emails/get-email?id=${first.body.id as string}`, { key })).body.status === 'sent', { what: 'the first email after the outage sent' });
    // The worker is idle again and polls every 10 minutes (the wake-up it got on reconnecting is long
    // spent): only a NOTIFY on its re-established LISTEN connection delivers this one.
    const second = await send(api, key, `after ${mode} 2`);
    expect(second.status).toBe(200);
    await waitFor(async () => sink.messages.some((m) => subjectOf(m.raw) === `after ${mode} 2`), { timeoutMs: 10_000, what: 'delivery woken by NOTIFY after the outage' });
    expect((await call(`${api.url}/health`)).body).toMatchObject({ database_state: 'up' });
    // one line for the loss and one for the recovery, however many reconnection attempts failed in between
    expect(workerLog.filter((m) => m.startsWith('database connection lost'))).toHaveLength(1);
    expect(workerLog.filter((m) => m.startsWith('database connection restored'))).toHaveLength(1);
  });

  it('SIGTERM to a server whose database is blackholed exits within SHUTDOWN_GRACE_MS', async () => {
    proxy = await startTcpProxy(target());
    const direct = { DATABASE_URL: pg.url };
    const ws = JSON.parse((await runCli(['workspace', 'create', '--name', 'Shutdown', '--plan', 'ENTERPRISE', '--json'], direct)).stdout) as { workspace: { id: string } };
    const key = (JSON.parse((await runCli(['api-key', 'create', '--workspace', ws.workspace.id, '--json'], direct)).stdout) as { secret_key: string }).secret_key;
    const graceMs = 3000;
    // default database timeouts (5 s connect, 30 s statement): a step waiting on one would outlast the grace period
    const server: ServerProcess = await startServerProcess('start', {
      DATABASE_URL: proxy.via(pg.url),
      SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
      PORT: '0',
      SHUTDOWN_GRACE_MS: String(graceMs),
    });
    try {
      expect((await call(`${server.url}/api/v1/send-email/async`, { key, body: { to: 'a@example.test', subject: 'before shutdown', body: 'x' } })).status).toBe(200);
      proxy.cut('blackhole');
      // a request that waits on the database while the signal arrives
      const pending = call(`${server.url}/api/v1/send-email/async`, { key: `${key.slice(0, -1)}${key.endsWith('0') ? '1' : '0'}`, body: { to: 'b@example.test', subject: 'x', body: 'x' } }).catch(() => null);
      await new Promise((r) => setTimeout(r, 300));
      const signalled = Date.now();
      const code = await server.stop('SIGTERM');
      const tookMs = Date.now() - signalled;
      await pending;
      expect(code).toBe(0); // close() finished by itself: the forced exit (grace + 1 s) did not fire
      expect(tookMs).toBeLessThan(graceMs + 1000);
      expect(server.output()).toContain('shutdown step did not finish within the grace period');
    } finally {
      await server.stop('SIGKILL');
    }
  });
});

describe('health and readiness with the embedded database', () => {
  it('is always ready: the database runs inside the process', async () => {
    const t = await startTestApp({ backend: 'pglite' });
    try {
      expect((await call(`${t.url}/ready`)).body).toEqual({ success: true, status: 'ready', database: 'pglite' });
      expect((await call(`${t.url}/health`)).body).toMatchObject({ success: true, status: 'ok', database: 'pglite', database_state: 'up' });
    } finally {
      await t.close();
    }
  });
});
