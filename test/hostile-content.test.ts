import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { whileProbingHealth } from './support/health-prober.js';
import { startSmtpSink, type SmtpSink } from './support/smtp-sink.js';

/**
 * The inputs of the security review that stalled every tenant (quadratic parsing on the event loop) or put a
 * bare CR on the wire, sent to a real server.
 */

/** How long /health may take while hostile work runs: any real stall is seconds to hours. */
const HEALTH_WITHIN_MS = 1000;

async function emailStatus(t: TestApp, key: string, id: string): Promise<string> {
  const res = await call(`${t.url}/api/v1/public/emails/get-email?id=${id}`, { key });
  return res.body.status as string;
}

/** Every bare CR, bare LF and NUL in a message's bytes. */
function lineBreakFaults(raw: Buffer): string[] {
  const faults: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x00) faults.push(`NUL at ${i}`);
    else if (raw[i] === 0x0d && raw[i + 1] !== 0x0a) faults.push(`bare CR at ${i}`);
    else if (raw[i] === 0x0a && raw[i - 1] !== 0x0d) faults.push(`bare LF at ${i}`);
  }
  return faults;
}

describe.each(BACKENDS)('hostile content does not stall the server on %s', (backend) => {
  let t: TestApp;
  let ws: { id: string; adminKey: string; key: string };

  beforeAll(async () => {
    t = await startTestApp({ backend });
    ws = await t.workspace();
  });
  afterAll(async () => {
    await t?.close();
  });

  const send = (body: unknown, tier = 'instant') => call(`${t.url}/api/v1/send-email/${tier}`, { key: ws.key, body });

  it('answers a send whose body is "<a" × 75,000 (once 15 s of blocked event loop) while /health keeps answering', async () => {
    const body = '<a'.repeat(75_000);
    const { result: res, health } = await whileProbingHealth(t.url, () => send({ to: 'a@example.test', subject: 'tags that never close', body }));
    expect(res.status).toBe(200);
    expect(health).toMatchObject({ failures: 0 });
    expect(health.slowestMs).toBeLessThan(HEALTH_WITHIN_MS);
    // no ">" anywhere: it is text, not HTML
    await waitFor(async () => (await emailStatus(t, ws.key, res.body.id as string)) === 'delivered', { what: 'delivery' });
    const captured = await call(`${t.url}/api/v1/captured?email_id=${res.body.id as string}`, { key: ws.key });
    const [message] = (captured.body.data as { messages: { id: string }[] }).messages;
    const raw = await fetch(`${t.url}/api/v1/captured/${message!.id}/raw`, { headers: { authorization: `Bearer ${ws.key}` } });
    expect((await raw.text()).match(/^Content-Type: [^;\r\n]*/m)?.[0]).toBe('Content-Type: text/plain');
  });

  it('refuses an attachment of 60,000 spaces and "!" (once 8.8 s) with 400 while /health keeps answering', async () => {
    const attachments = [{ filename: 'a.bin', content: `${' '.repeat(60_000)}!` }];
    const { result: res, health } = await whileProbingHealth(t.url, () => send({ to: 'a@example.test', subject: 'not base64', text: 'x', attachments }));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ success: false, error: 'VALIDATION_ERROR' });
    expect(res.body.message).toContain("Field 'attachments[0].content' must be base64");
    expect(health).toMatchObject({ failures: 0 });
    expect(health.slowestMs).toBeLessThan(HEALTH_WITHIN_MS);
  });

  it('delivers a bulk send with html "<a" × 60,000 (once 50 s of text conversion) while /health keeps answering', async () => {
    const html = '<a'.repeat(60_000);
    const { result: id, health } = await whileProbingHealth(t.url, async () => {
      const res = await send({ to: 'a@example.test', subject: 'bulk', html }, 'bulk');
      expect(res.status).toBe(200);
      const accepted = res.body.id as string;
      await waitFor(async () => (await emailStatus(t, ws.key, accepted)) === 'delivered', { timeoutMs: 30_000, what: 'the bulk email to be delivered' });
      return accepted;
    });
    expect(health).toMatchObject({ failures: 0 });
    expect(health.slowestMs).toBeLessThan(HEALTH_WITHIN_MS);
    const captured = await call(`${t.url}/api/v1/captured?email_id=${id}`, { key: ws.key });
    const [message] = (captured.body.data as { messages: { id: string }[] }).messages;
    const raw = await (await fetch(`${t.url}/api/v1/captured/${message!.id}/raw`, { headers: { authorization: `Bearer ${ws.key}` } })).text();
    // the text alternative was generated: every "<a" is text there
    expect(raw).toContain('Content-Type: text/plain');
    expect(raw).toContain('Content-Type: text/html');
  });
});

describe.each(BACKENDS)('no bare CR reaches a relay on %s', (backend) => {
  let t: TestApp;
  let sink: SmtpSink;
  let ws: { id: string; adminKey: string; key: string };

  beforeAll(async () => {
    sink = await startSmtpSink();
    t = await startTestApp({ backend, env: { SMTP_URL: `smtp://127.0.0.1:${sink.port}`, DEFAULT_FROM: 'shop@example.test' } });
    ws = await t.workspace();
  });
  afterAll(async () => {
    await t?.close();
    await sink?.close();
  });
  beforeEach(() => {
    sink.messages.length = 0;
  });

  it('sends html holding "\\r.\\r\\nMAIL FROM:<x@example.com>\\r\\n" as one message with CRLF line breaks only', async () => {
    // a server that takes a bare CR for a line end would see the data end at "\r.\r\n" and a second transaction
    const smuggled = '\r.\r\nMAIL FROM:<x@example.com>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n.\r\n';
    const res = await call(`${t.url}/api/v1/send-email/instant`, { key: ws.key, body: { to: 'rcpt@example.test', subject: 'smuggling', html: `<p>hello</p>${smuggled}<p>bye</p>` } });
    expect(res.status).toBe(200);
    const [message] = await sink.waitFor(1);
    await waitFor(async () => (await emailStatus(t, ws.key, res.body.id as string)) === 'sent', { what: 'the relay to accept it' });
    expect(sink.messages).toHaveLength(1);
    expect(message!.to).toEqual(['rcpt@example.test']);
    expect(message!.from).toBe('shop@example.test');
    expect(lineBreakFaults(message!.raw)).toEqual([]);
    // the text survived, with its line breaks made CRLF
    expect(message!.raw.toString('latin1')).toContain('\r\n.\r\nMAIL FROM:<x@example.com>\r\nRCPT TO:<victim@example.test>\r\n');
  });
});
