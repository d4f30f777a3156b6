import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRegionTransports, createTransport } from '../src/app/transports.js';
import { loadConfig } from '../src/config/config.js';
import type { Db } from '../src/platform/db/database.js';
import type { Transport } from '../src/platform/mail/types.js';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { startAuthRelay, type AuthRelay } from './support/auth-relay.js';
import { BACKENDS } from './support/databases.js';

const PASSWORD = 'correct-horse-battery';
const raw = Buffer.from('From: shop@example.test\r\nTo: alice@example.test\r\nSubject: relay\r\n\r\nHello\r\n');

/** A real pino logger whose lines are kept, to read what the operator would see. */
function capturedLog() {
  const lines: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
  return { log, lines };
}

describe('relay credentials and TLS, from the settings', () => {
  let relay: AuthRelay;
  const transports: Transport[] = [];
  // smtp transports never touch the database (only capture does)
  const noDatabase = null as unknown as Db;

  beforeAll(async () => {
    relay = await startAuthRelay({ tls: 'none' });
  });
  afterEach(async () => {
    for (const t of transports.splice(0)) await t.close();
    relay.auths.length = 0;
  });
  afterAll(() => relay?.close());

  it('withholds SMTP_URL credentials from a relay without TLS and says so once in the log, for every lane', async () => {
    const config = loadConfig({ SMTP_URL: `smtp://mailer:${PASSWORD}@127.0.0.1:${relay.port}` });
    const { log, lines } = capturedLog();
    const lanes = [createTransport(config, noDatabase, 1, log), createTransport(config, noDatabase, 2, log)];
    transports.push(...lanes);
    for (const lane of lanes) {
      for (let i = 0; i < 2; i++) {
        const [outcome] = await lane.send({ from: 'shop@example.test', to: ['alice@example.test'] }, raw);
        expect(outcome?.status).toBe('deferred');
      }
    }
    expect(relay.auths).toEqual([]);
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!) as { level: number; msg: string; relay: string; setting: string };
    expect(entry).toMatchObject({ level: 40, relay: `127.0.0.1:${relay.port}`, setting: 'SMTP_URL' });
    expect(entry.msg).toContain('offers no TLS, so its credentials were not sent');
    expect(entry.msg).toContain('SMTP_ALLOW_INSECURE_AUTH=true');
    expect(lines.join('')).not.toContain(PASSWORD);
  });

  it('does the same for a regional relay (REGION_<R>_SMTP_URL), and SMTP_ALLOW_INSECURE_AUTH opts out', async () => {
    const env = { SMTP_URL: 'smtp://127.0.0.1:1', REGION_AF_SOUTH_1_SMTP_URL: `smtp://africa:${PASSWORD}@127.0.0.1:${relay.port}` };
    const { log, lines } = capturedLog();
    const strict = createRegionTransports(loadConfig(env), noDatabase, 1, log).get('af-south-1')!;
    transports.push(strict);
    const [withheld] = await strict.send({ from: 'shop@example.test', to: ['alice@example.test'] }, raw);
    expect(withheld).toMatchObject({ status: 'deferred' });
    expect(withheld!.response).toContain('credentials not sent');
    expect(relay.auths).toEqual([]);
    expect((JSON.parse(lines[0]!) as { setting: string }).setting).toBe('REGION_AF_SOUTH_1_SMTP_URL');

    const optedOut = createRegionTransports(loadConfig({ ...env, SMTP_ALLOW_INSECURE_AUTH: 'true' }), noDatabase, 1, log).get('af-south-1')!;
    transports.push(optedOut);
    const [accepted] = await optedOut.send({ from: 'shop@example.test', to: ['alice@example.test'] }, raw);
    expect(accepted?.status).toBe('accepted');
    expect(relay.auths).toEqual([{ user: 'africa', secure: false }]);
  });
});

describe.each(BACKENDS)('an email through a relay without TLS on %s', (backend) => {
  let relay: AuthRelay;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    relay = await startAuthRelay({ tls: 'none' });
  });
  afterAll(async () => {
    for (const t of apps) await t.close();
    await relay?.close();
  });

  async function send(env: Record<string, string>, want: string) {
    const t = await startTestApp({ backend, env: { SMTP_URL: `smtp://mailer:${PASSWORD}@127.0.0.1:${relay.port}`, DEFAULT_FROM: 'shop@example.test', ...env } });
    apps.push(t);
    const { key } = await t.workspace();
    const res = await call(`${t.url}/api/v1/send-email/instant`, { key, body: { to: 'alice@example.test', subject: 'relay', body: 'hi' } });
    expect(res.status, res.text).toBe(200);
    return waitFor(async () => {
      const r = await call(`${t.url}/api/v1/public/emails/get-email?id=${res.body.id as string}`, { key });
      return r.body.status === want ? r : null;
    }, { what: `the email to be ${want}` });
  }

  it('is deferred with the reason, never authenticating, and delivered once the operator opts out', async () => {
    // retried in a minute, so it stays deferred while this looks
    const deferred = await send({ RETRY_BASE_MS: '60000' }, 'deferred');
    const recipient = (deferred.body.data as { recipients: { status: string; smtp_response: string }[] }).recipients[0]!;
    expect(recipient.status).toBe('deferred');
    expect(recipient.smtp_response).toContain('credentials not sent: the server offered no TLS');
    expect(deferred.text).not.toContain(PASSWORD);
    expect(relay.auths).toEqual([]);
    expect(relay.messages).toEqual([]);

    await send({ SMTP_ALLOW_INSECURE_AUTH: 'true' }, 'sent');
    expect(relay.auths.map((a) => a.user)).toContain('mailer');
  });
});
