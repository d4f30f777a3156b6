import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { startSmtpSink } from './support/smtp-sink.js';

type Sink = Awaited<ReturnType<typeof startSmtpSink>>;

const headerBlock = (raw: Buffer) => raw.toString('utf8').split('\r\n\r\n')[0]!;
const header = (raw: Buffer, name: string) => {
  const m = new RegExp(`^${name}:(.*(?:\\r\\n[ \\t].*)*)`, 'im').exec(headerBlock(raw));
  return m ? m[1]!.replace(/\r\n[ \t]+/g, ' ').trim() : null;
};

describe.each(BACKENDS)('sending through a real SMTP relay on %s', (backend) => {
  let t: TestApp;
  let sink: Sink;
  let ws: { id: string; adminKey: string; key: string };

  beforeAll(async () => {
    sink = await startSmtpSink();
    // outside capture only verified custom domains may send (domains.test.ts), and the operator's DEFAULT_FROM
    t = await startTestApp({ backend, env: { SMTP_URL: `smtp://127.0.0.1:${sink.port}`, DEFAULT_FROM: 'shop@example.test' } });
    ws = await t.workspace();
  });
  afterAll(async () => {
    await t?.close();
    await sink?.close();
  });
  beforeEach(() => {
    sink.messages.length = 0;
    sink.setFailure(null);
  });

  const send = (body: unknown, path = '/api/v1/send-email/instant', headers?: Record<string, string>) =>
    call(`${t.url}${path}`, { key: ws.key, body, ...(headers ? { headers } : {}) });

  it('answers with the superset response and delivers a proper MIME message', async () => {
    const res = await send({ to: ['rcpt@example.test'], from: 'shop@example.test', from_name: 'Shöp', subject: 'Grüße 👋', html: '<h1>Hello</h1><p>Visit <a href="https://example.test/x">us</a></p>', track_opens: false, track_clicks: false });
    expect(res.status).toBe(200);
    const id = res.body.id as string;
    expect(id).toMatch(/^msg_\d{13}_[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(res.body).toMatchObject({
      success: true,
      object: 'email',
      status: 'queued',
      email_id: id,
      queue: 'instant',
      estimated_delivery: '0-5 seconds',
      to: ['rcpt@example.test'],
      from: 'shop@example.test',
      metadata: { priority: 'instant', estimated_delivery: '0-5 seconds', recipients_count: 1 },
      data: { id, job_id: id, email_id: id, priority: 'instant', status: 'queued' },
    });
    const [msg] = await sink.waitFor(1);
    expect(msg!.to).toEqual(['rcpt@example.test']);
    expect(msg!.from).toBe('shop@example.test');
    const raw = msg!.raw;
    expect(header(raw, 'Message-ID')).toBe(`<${id}@127.0.0.1>`);
    expect(header(raw, 'Date')).toBeTruthy();
    expect(header(raw, 'Subject')).toMatch(/^=\?UTF-8\?/i);
    expect(header(raw, 'From')).toContain('shop@example.test');
    expect(header(raw, 'Content-Type')).toContain('multipart/alternative');
    const text = raw.toString('utf8');
    expect(text).toContain('Content-Type: text/plain');
    expect(text).toContain('Content-Type: text/html');
    expect(text).toMatch(/us \(https:\/\/example\.test\/x\)/);
  });

  it('sends to to, cc and bcc, and never writes bcc into the headers', async () => {
    await send({ to: [{ email: 'a@example.test', name: 'A' }], cc: ['c@example.test'], bcc: ['hidden@example.test'], subject: 'cc', body: 'plain text' });
    const [msg] = await sink.waitFor(1);
    expect(msg!.to.sort()).toEqual(['a@example.test', 'c@example.test', 'hidden@example.test']);
    expect(header(msg!.raw, 'Cc')).toContain('c@example.test');
    expect(headerBlock(msg!.raw)).not.toMatch(/^bcc:/im);
    expect(msg!.raw.toString('utf8')).not.toContain('hidden@example.test');
  });

  it('carries reply_to, custom headers and attachments', async () => {
    await send({ to: 'a@example.test', subject: 'att', text: 'see file', reply_to: 'help@example.test', headers: { 'X-Campaign': 'spring' }, attachments: [{ filename: 'hello.txt', content: Buffer.from('hello file').toString('base64'), content_type: 'text/plain' }] });
    const [msg] = await sink.waitFor(1);
    expect(header(msg!.raw, 'Reply-To')).toContain('help@example.test');
    expect(header(msg!.raw, 'X-Campaign')).toBe('spring');
    const text = msg!.raw.toString('utf8');
    expect(text).toMatch(/filename="?hello\.txt"?/);
    expect(text).toContain(Buffer.from('hello file').toString('base64'));
  });

  it('never turns CR/LF into a header (subject folded, names rejected)', async () => {
    const ok = await send({ to: 'a@example.test', subject: 'Hi\r\nBcc: evil@example.test', body: 'x' });
    expect(ok.status).toBe(200);
    const [msg] = await sink.waitFor(1);
    expect(msg!.to).toEqual(['a@example.test']);
    expect(headerBlock(msg!.raw)).not.toMatch(/^bcc:/im);
    const bad = await send({ to: [{ email: 'a@example.test', name: 'x\r\nBcc: evil@example.test' }], subject: 's', body: 'x' });
    expect(bad.status).toBe(400);
  });

  it('every path alias and tier reaches the queue', async () => {
    const paths = ['/api/v1/send-email/instant', '/api/v1/send-email/high', '/api/v1/send-email/async', '/api/v1/send-email/bulk', '/api/v1/send-email/queue', '/api/v1/public/send-email/high', '/send-email/instant', '/send-email/queue'];
    const results = await Promise.all(paths.map((p) => send({ to: 'a@example.test', subject: p, body: 'x' }, p)));
    expect(results.map((r) => r.status)).toEqual(paths.map(() => 200));
    expect(results.map((r) => r.body.queue)).toEqual(['instant', 'high', 'async', 'bulk', 'async', 'high', 'instant', 'async']);
    await sink.waitFor(paths.length);
  });

  it('validation errors name the field', async () => {
    const res = await send({ subject: 's', body: 'b' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ success: false, error: 'VALIDATION_ERROR', code: 'VALIDATION_ERROR', message: "Field 'to' is required" });
  });

  it('an unknown template id is INVALID_TEMPLATE', async () => {
    const res = await send({ to: 'a@example.test', template_id: 'tpl_missing', params: {} });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('INVALID_TEMPLATE');
  });

  it('Idempotency-Key returns the first response instead of sending twice', async () => {
    const body = { to: 'idem@example.test', subject: 'once', body: 'x' };
    const first = await send(body, '/api/v1/send-email/async', { 'Idempotency-Key': 'order-42' });
    const again = await Promise.all([1, 2, 3].map(() => send(body, '/api/v1/send-email/async', { 'Idempotency-Key': 'order-42' })));
    expect(first.status).toBe(200);
    for (const r of again) expect(r.body.id).toBe(first.body.id);
    // the same email in another client's spelling is the same request
    const respelled = await send({ to: [{ email: 'idem@example.test' }], subject: 'once', text: 'x' }, '/api/v1/send-email/async', { 'Idempotency-Key': 'order-42' });
    expect([respelled.status, respelled.body.id]).toEqual([200, first.body.id]);
    const conflict = await send({ ...body, subject: 'different' }, '/api/v1/send-email/async', { 'Idempotency-Key': 'order-42' });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error).toBe('IDEMPOTENCY_CONFLICT');
    await sink.waitFor(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.messages.filter((m) => m.to.includes('idem@example.test'))).toHaveLength(1);
  });

  it('get-email shows status and a timeline of attempts for the key’s workspace only', async () => {
    const res = await send({ to: 'status@example.test', subject: 'status', body: 'x' });
    const id = res.body.id as string;
    await sink.waitFor(1);
    const email = await waitFor(async () => {
      const r = await call(`${t.url}/api/v1/public/emails/get-email?id=${id}`, { key: ws.key });
      return r.body.status === 'sent' ? r : null;
    });
    expect(email.status).toBe(200);
    const data = email.body.data as { status: string; events: { type: string; smtp_code: number | null; smtp_host: string | null; smtp_response: string | null }[] };
    expect(data.status).toBe('sent');
    expect(data.events.map((e) => e.type)).toEqual(['queued', 'sent']);
    expect(data.events[1]).toMatchObject({ smtp_code: 250, smtp_host: '127.0.0.1' });
    expect(data.events[1]!.smtp_response).toBeTruthy();
    const other = await t.workspace();
    const hidden = await call(`${t.url}/api/v1/public/emails/get-email?id=${id}`, { key: other.key });
    expect(hidden.status).toBe(404);
    expect(hidden.body.error).toBe('NOT_FOUND');
  });

  it('retries a temporary failure with backoff, then delivers', async () => {
    let failures = 0;
    sink.setFailure(() => (failures++ < 2 ? { code: 451, message: 'try again later' } : null));
    const res = await send({ to: 'retry@example.test', subject: 'retry', body: 'x' });
    await sink.waitFor(1, 15_000);
    const email = await waitFor(async () => {
      const r = await call(`${t.url}/api/v1/public/emails/get-email?id=${res.body.id as string}`, { key: ws.key });
      return r.body.status === 'sent' ? r : null;
    });
    const data = email.body.data as { attempts: number; events: { type: string; smtp_code: number | null }[] };
    expect(data.attempts).toBe(3);
    expect(data.events.filter((e) => e.type === 'deferred').map((e) => e.smtp_code)).toEqual([451, 451]);
  });

  it('does not retry a permanent failure', async () => {
    sink.setFailure((rcpt) => (rcpt.startsWith('gone') ? { code: 550, message: 'no such user' } : null));
    const res = await send({ to: ['gone@example.test', 'here@example.test'], subject: 'partial', body: 'x' }, '/api/v1/send-email/high');
    const email = await waitFor(async () => {
      const r = await call(`${t.url}/api/v1/public/emails/get-email?id=${res.body.id as string}`, { key: ws.key });
      return r.body.status === 'sent' ? r : null;
    });
    const data = email.body.data as { attempts: number; recipients: { email: string; status: string; smtp_code: number }[] };
    expect(data.attempts).toBe(1);
    expect(data.recipients).toEqual([
      expect.objectContaining({ email: 'gone@example.test', status: 'bounced', smtp_code: 550 }),
      expect.objectContaining({ email: 'here@example.test', status: 'sent', smtp_code: 250 }),
    ]);
    const onlyBad = await send({ to: 'gone2@example.test', subject: 'bounce', body: 'x' });
    const bounced = await waitFor(async () => {
      const r = await call(`${t.url}/api/v1/public/emails/get-email?id=${onlyBad.body.id as string}`, { key: ws.key });
      return r.body.status === 'bounced' ? r : null;
    });
    expect((bounced.body.data as { attempts: number }).attempts).toBe(1);
  });

  it('gives up after the tier’s retries (high: 3) and marks the email failed', async () => {
    sink.setFailure(() => ({ code: 421, message: 'service not available' }));
    const res = await send({ to: 'never@example.test', subject: 'never', body: 'x' }, '/api/v1/send-email/high');
    const email = await waitFor(
      async () => {
        const r = await call(`${t.url}/api/v1/public/emails/get-email?id=${res.body.id as string}`, { key: ws.key });
        return r.body.status === 'failed' ? r : null;
      },
      { timeoutMs: 30_000 },
    );
    const data = email.body.data as { attempts: number; events: { type: string }[] };
    expect(data.attempts).toBe(4);
    expect(data.events.filter((e) => e.type === 'deferred')).toHaveLength(3);
    expect(data.events.some((e) => e.type === 'failed')).toBe(true);
  });

  it('lists emails with filters and cursor pagination', async () => {
    const w = await t.workspace();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await call(`${t.url}/api/v1/send-email/async`, { key: w.key, body: { to: i % 2 ? 'odd@example.test' : 'even@example.test', subject: `n${i}`, body: 'x' } });
      ids.push(r.body.id as string);
    }
    const page1 = await call(`${t.url}/api/v1/emails?limit=2`, { key: w.key });
    const d1 = page1.body.data as { emails: { id: string }[]; next_cursor: string; has_more: boolean };
    expect(d1.emails.map((e) => e.id)).toEqual([ids[4], ids[3]]);
    expect(d1.has_more).toBe(true);
    const page2 = await call(`${t.url}/api/v1/emails?limit=2&cursor=${d1.next_cursor}`, { key: w.key });
    expect((page2.body.data as { emails: { id: string }[] }).emails.map((e) => e.id)).toEqual([ids[2], ids[1]]);
    const odd = await call(`${t.url}/api/v1/emails?recipient=odd@example.test`, { key: w.key });
    expect((odd.body.data as { emails: { id: string }[] }).emails.map((e) => e.id)).toEqual([ids[3], ids[1]]);
    const future = await call(`${t.url}/api/v1/emails?since=${new Date(Date.now() + 60_000).toISOString()}`, { key: w.key });
    expect((future.body.data as { emails: unknown[] }).emails).toEqual([]);
    const bad = await call(`${t.url}/api/v1/emails?status=nonsense`, { key: w.key });
    expect(bad.status).toBe(400);
  });
});
