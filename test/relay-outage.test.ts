import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { captureLog, type CapturedLog } from './support/log-capture.js';
import { parsePrometheusText, sampleValue } from './support/prometheus-text.js';
import { startSmtpSink, type SmtpSink } from './support/smtp-sink.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

/**
 * A relay that stops answering is a warning once per outage (not one per message, not silence), and one line
 * when it answers again. The relay sits behind a TCP proxy that resets every connection while "down".
 */
describe('a relay that cannot be reached', () => {
  let sink: SmtpSink;
  let proxy: TcpProxy;
  let log: CapturedLog;
  let t: TestApp;
  const password = 'relay-outage-pw-77';

  beforeAll(async () => {
    sink = await startSmtpSink();
    proxy = await startTcpProxy({ host: '127.0.0.1', port: sink.port });
    proxy.cut('reset');
    log = captureLog('info');
    // bulk retries after about 0.6-1.2 s, then 1.2-2.4 s, then 2.4-4.8 s: time to see two outage rounds, then recover
    t = await startTestApp({ backend: 'pglite', env: { SMTP_URL: `smtp://mailer:${password}@127.0.0.1:${proxy.port}`, SMTP_ALLOW_INSECURE_AUTH: 'true', RETRY_BASE_MS: '20' }, logger: log.logger });
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
    await sink?.close();
  });

  const deferred = async () => parsePrometheusText(await (await fetch(`${t.url}/metrics`)).text());
  const warnings = () => log.lines().filter((l) => l.level === 40 && String(l.msg).includes('cannot be reached'));
  const recoveries = () => log.lines().filter((l) => l.level === 30 && String(l.msg).includes('answers again'));

  it('warns once while every message is deferred, then says once that it answers again', async () => {
    const ws = await t.workspace();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const sent = await call(`${t.url}/api/v1/send-email/bulk`, { key: ws.key, body: { to: `user${i}@example.org`, subject: `outage ${i}`, text: 'hi' } });
      expect(sent.status, sent.text).toBe(200);
      ids.push(sent.body.id as string);
    }
    // every message tried twice against the dead relay
    await waitFor(async () => sampleValue(await deferred(), 'keplars_delivery_outcomes_total', { tier: 'bulk', outcome: 'deferred' }) >= 6, { timeoutMs: 20_000 });
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toMatchObject({ relay: `127.0.0.1:${proxy.port}`, setting: 'SMTP_URL' });
    expect(String(warnings()[0]!.err)).not.toBe('');
    expect(recoveries()).toHaveLength(0);

    proxy.restore();
    await sink.waitFor(3, 20_000);
    for (const id of ids) {
      await waitFor(async () => (await call(`${t.url}/api/v1/public/emails/get-email?id=${id}`, { key: ws.key })).body.status === 'sent', { what: `${id} sent` });
    }
    expect(recoveries()).toHaveLength(1);
    expect(recoveries()[0]).toMatchObject({ relay: `127.0.0.1:${proxy.port}` });
    expect(warnings()).toHaveLength(1);
    expect(log.text()).not.toContain(password);
  });
});
