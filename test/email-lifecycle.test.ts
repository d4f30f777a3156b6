import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { startDnsServer, type TestDnsServer } from './support/dns-server.js';
import { startSmtpSink, type SmtpSink } from './support/smtp-sink.js';

/**
 * One email, three recipients, three endings (README, "Email status and logs"): the receiving server takes one
 * (250), refuses one for good (550) and keeps answering 451 to the third until its retries run out. Through the
 * relay the accepted one is `sent`, delivered straight to its MX it is `delivered`; the refused one is
 * `bounced`, the third `failed`, each with an event of the same name, and the email's own status follows the
 * mixed-outcome rule.
 */
interface Recipient {
  email: string;
  status: string;
  smtp_code: number | null;
}
interface TimelineEvent {
  type: string;
  recipient: string | null;
  smtp_code: number | null;
}
interface EmailBody {
  id: string;
  status: string;
  attempts: number;
  recipients: Recipient[];
  recipient_counts: Record<string, number>;
  events: TimelineEvent[];
}

const MODES = [
  { mode: 'smtp', accepted: 'sent' },
  { mode: 'mx', accepted: 'delivered' },
] as const;

describe.each(BACKENDS.flatMap((backend) => MODES.map((m) => ({ backend, ...m }))))('an email whose recipients ended differently ($mode on $backend)', ({ backend, mode, accepted }) => {
  let t: TestApp;
  let sink: SmtpSink;
  let dns: TestDnsServer | null = null;
  let ws: { id: string; adminKey: string; key: string };
  let mixed: EmailBody;
  let allRefused: EmailBody;
  let refusedAndGaveUp: EmailBody;
  let clean: EmailBody;

  const send = async (to: string[]) => {
    // high: 3 retries (spec §2), so the third recipient gives up after 4 attempts
    const res = await call(`${t.url}/api/v1/send-email/high`, { key: ws.key, body: { to, from: 'shop@example.test', subject: 'mixed', body: 'hello' } });
    expect(res.status, res.text).toBe(200);
    return res.body.id as string;
  };
  const settled = (id: string) =>
    waitFor(
      async () => {
        const r = await call(`${t.url}/api/v1/public/emails/get-email?id=${id}`, { key: ws.key });
        const body = r.body.data as EmailBody;
        return ['queued', 'sending', 'deferred'].includes(body.status) ? null : body;
      },
      { timeoutMs: 30_000, what: `${id} settled` },
    );
  const listed = async (query: string) => {
    const r = await call(`${t.url}/api/v1/emails?${query}`, { key: ws.key });
    expect(r.status, r.text).toBe(200);
    return (r.body.data as { emails: { id: string }[] }).emails.map((e) => e.id);
  };

  beforeAll(async () => {
    sink = await startSmtpSink();
    sink.setFailure((rcpt) => {
      if (rcpt.startsWith('gone')) return { code: 550, message: 'no such user' };
      if (rcpt.startsWith('later')) return { code: 451, message: 'mailbox busy, try again later' };
      return null;
    });
    const env: Record<string, string> = { DEFAULT_FROM: 'shop@example.test', RETRY_BASE_MS: '10' };
    if (mode === 'smtp') env.SMTP_URL = `smtp://127.0.0.1:${sink.port}`;
    else {
      dns = await startDnsServer({ 'example.test': { MX: [{ exchange: 'mx.example.test', priority: 10 }] }, 'mx.example.test': { A: ['127.0.0.1'] } });
      Object.assign(env, { DELIVERY_MODE: 'mx', MX_ALLOW_PRIVATE_ADDRESSES: 'true', DNS_SERVERS: dns.server, MX_PORT: String(sink.port) });
    }
    t = await startTestApp({ backend, env });
    ws = await t.workspace();
    const ids = await Promise.all([
      send(['ok@example.test', 'gone@example.test', 'later@example.test']),
      send(['gone1@example.test', 'gone2@example.test']),
      send(['gone3@example.test', 'later3@example.test']),
      send(['ok4@example.test']),
    ]);
    [mixed, allRefused, refusedAndGaveUp, clean] = (await Promise.all(ids.map(settled))) as [EmailBody, EmailBody, EmailBody, EmailBody];
  });
  afterAll(async () => {
    await t?.close();
    await sink?.close();
    await dns?.close();
  });

  it(`gives each recipient its own ending: ${accepted}, bounced, failed`, () => {
    expect(mixed.recipients.map((r) => [r.email, r.status, r.smtp_code])).toEqual([
      ['ok@example.test', accepted, 250],
      ['gone@example.test', 'bounced', 550],
      ['later@example.test', 'failed', 451],
    ]);
    expect(mixed.recipient_counts).toEqual({ [accepted]: 1, bounced: 1, failed: 1 });
    expect(mixed.attempts).toBe(4);
  });

  it('names each recipient’s events by the status it reached, and never calls running out of retries a bounce', () => {
    const of = (email: string) => mixed.events.filter((e) => e.recipient === email).map((e) => e.type);
    expect(of('ok@example.test')).toEqual([accepted]);
    expect(of('gone@example.test')).toEqual(['bounced']);
    expect(of('later@example.test')).toEqual(['deferred', 'deferred', 'deferred', 'failed']);
    expect(mixed.events.filter((e) => e.type === 'bounced').map((e) => e.recipient)).toEqual(['gone@example.test']);
  });

  it('says of the email what its best-placed recipient reached, and of the others what their counts say', () => {
    // some recipient accepted: the email is sent/delivered; nobody accepted: failed if any ran out of retries, else bounced
    expect(mixed.status).toBe(accepted);
    expect(allRefused).toMatchObject({ status: 'bounced', recipient_counts: { bounced: 2 } });
    expect(refusedAndGaveUp).toMatchObject({ status: 'failed', recipient_counts: { bounced: 1, failed: 1 } });
    expect(clean).toMatchObject({ status: accepted, recipient_counts: { [accepted]: 1 } });
    // the email-level event of an email nobody received
    expect(allRefused.events.filter((e) => e.recipient === null).map((e) => e.type)).toEqual(['queued', 'bounced']);
    expect(refusedAndGaveUp.events.filter((e) => e.recipient === null).map((e) => e.type)).toEqual(['queued', 'failed']);
  });

  it('shows the same recipients and counts at GET /api/v1/emails/{id}', async () => {
    const r = await call(`${t.url}/api/v1/emails/${mixed.id}`, { key: ws.key });
    expect(r.status).toBe(200);
    const data = r.body.data as EmailBody;
    expect(data.recipients.map((x) => x.status)).toEqual([accepted, 'bounced', 'failed']);
    expect(data.recipient_counts).toEqual(mixed.recipient_counts);
  });

  it('finds an email by any recipient’s status in GET /api/v1/emails?status=', async () => {
    const bounced = await listed('status=bounced');
    expect(bounced).toEqual(expect.arrayContaining([mixed.id, allRefused.id, refusedAndGaveUp.id]));
    expect(bounced).not.toContain(clean.id);
    const failed = await listed('status=failed');
    expect(failed.sort()).toEqual([mixed.id, refusedAndGaveUp.id].sort());
    expect((await listed(`status=${accepted}`)).sort()).toEqual([mixed.id, clean.id].sort());
    expect(await listed('status=deferred')).toEqual([]);
    // several words: any of them
    expect((await listed('status=failed,bounced')).sort()).toEqual([mixed.id, allRefused.id, refusedAndGaveUp.id].sort());
    // pagination still walks the filtered list
    const first = await call(`${t.url}/api/v1/emails?status=bounced&limit=2`, { key: ws.key });
    const page = first.body.data as { emails: { id: string }[]; next_cursor: string };
    const rest = await listed(`status=bounced&limit=2&cursor=${encodeURIComponent(page.next_cursor)}`);
    expect([...page.emails.map((e) => e.id), ...rest].sort()).toEqual([mixed.id, allRefused.id, refusedAndGaveUp.id].sort());
  });

  it('keeps the filter inside what a key may see', async () => {
    const other = await t.workspace();
    expect((await call(`${t.url}/api/v1/emails?status=bounced`, { key: other.key })).body.data).toMatchObject({ emails: [] });
    // a domain-tied key sees only its own domain's senders, whatever the recipients did
    const list = (senderDomain: string) => t.app.services.emails.list({ workspaceId: ws.id, senderDomain, statuses: ['bounced'], limit: 50 });
    expect((await list('example.test')).emails.map((e) => e.id)).toContain(mixed.id);
    expect((await list('elsewhere.test')).emails).toEqual([]);
  });
});
