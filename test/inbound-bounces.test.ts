import net from 'node:net';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../src/cli/run.js';
import { newEmailId, newScheduledEmailId, uuidv7 } from '../src/platform/ids.js';
import { RETURN_PATH_LOCAL_PART_OCTETS, ReturnPathSigner } from '../src/platform/mail/verp.js';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { startSmtpSink, type SmtpSink } from './support/smtp-sink.js';

// The corpus: reports as Postfix, Exim, Exchange, Gmail and Yahoo write them, and auto-replies, written here.

const BOUNCE_DOMAIN = 'bounces.platform.test';
const DEFAULT_FROM = 'noreply@platform.test';
const CRLF = (s: string): string => s.replace(/\r?\n/g, '\r\n');

interface Original {
  verp: string;
  recipient: string;
  messageId: string;
}

const originalHeaders = (o: Original, subject = 'Your order') =>
  `Return-Path: <${o.verp}>\nFrom: ${DEFAULT_FROM}\nTo: ${o.recipient}\nSubject: ${subject}\nMessage-ID: ${o.messageId}\nDate: Tue, 1 Dec 2026 10:00:00 +0000\nMIME-Version: 1.0\n`;

function multipartReport(o: { from: string; to: string; subject: string; reportType: string; human: string; report: { type: string; body: string }; original: { type: string; body: string }; extra?: string }): string {
  const b = 'B0UNDARY_x1';
  return CRLF(
    `From: ${o.from}\nTo: ${o.to}\nSubject: ${o.subject}\nDate: Tue, 1 Dec 2026 10:01:00 +0000\nMessage-ID: <report.${Math.random().toString(36).slice(2)}@mx.example.net>\n${o.extra ?? ''}` +
      `MIME-Version: 1.0\nContent-Type: multipart/report; report-type=${o.reportType};\n\tboundary="${b}"\n\n` +
      `This is a MIME-encapsulated message.\n\n--${b}\nContent-Type: text/plain; charset=us-ascii\n\n${o.human}\n\n` +
      `--${b}\nContent-Type: ${o.report.type}\n\n${o.report.body}\n\n` +
      `--${b}\nContent-Type: ${o.original.type}\n\n${o.original.body}\n--${b}--\n`,
  );
}

const postfixDsn = (o: Original, status = '5.1.1', diagnostic = `smtp; 550 5.1.1 <${o.recipient}>: Recipient address rejected: User unknown in local recipient table`, action = 'failed') =>
  multipartReport({
    from: 'MAILER-DAEMON@mx.example.net (Mail Delivery System)',
    to: o.verp,
    subject: 'Undelivered Mail Returned to Sender',
    reportType: 'delivery-status',
    extra: 'Auto-Submitted: auto-replied\n',
    human: `This is the mail system at host mx.example.net.\n\nI'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients.\n\n<${o.recipient}>: host mx.example.org said: 550 5.1.1 User unknown`,
    report: {
      type: 'message/delivery-status',
      body: `Reporting-MTA: dns; mx.example.net\nX-Postfix-Queue-ID: 4F1A2B3C\nArrival-Date: Tue,  1 Dec 2026 10:00:01 +0000\n\nFinal-Recipient: rfc822; ${o.recipient}\nOriginal-Recipient: rfc822;${o.recipient}\nAction: ${action}\nStatus: ${status}\nRemote-MTA: dns; mx.example.org\nDiagnostic-Code: ${diagnostic}`,
    },
    original: { type: 'message/rfc822', body: `${originalHeaders(o)}Content-Type: text/plain\n\nThanks for your order! Call 550 1234.` },
  });

const eximPlainText = (o: Original) =>
  CRLF(
    `From: Mail Delivery System <Mailer-Daemon@mx.example.net>\nTo: ${o.verp}\nSubject: Mail delivery failed: returning message to sender\nAuto-Submitted: auto-replied\nMessage-ID: <E1x@mx.example.net>\nDate: Tue, 1 Dec 2026 10:01:00 +0000\n\n` +
      `This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n` +
      `  ${o.recipient}\n    host mx.example.org [192.0.2.25]\n    SMTP error from remote mail server after RCPT TO:<${o.recipient}>:\n    550 5.1.1 <${o.recipient}>: Recipient address rejected: User unknown\n\n` +
      `------ This is a copy of the message, including all the headers. ------\n\n${originalHeaders(o)}\nTo: someone-else@example.org 550 5.1.1 mentioned in the original must not count\n`,
  );

const exchangeDsn = (o: Original) =>
  multipartReport({
    from: 'postmaster@outlook.example',
    to: o.verp,
    subject: 'Undeliverable: Your order',
    reportType: 'delivery-status',
    human: `Your message to ${o.recipient} couldn't be delivered.\n${o.recipient.split('@')[0]} wasn't found at ${o.recipient.split('@')[1]}.`,
    report: {
      type: 'message/delivery-status',
      body: `Reporting-MTA: dns;DM6PR01MB1234.prod.outlook.example\nReceived-From-MTA: dns;mail.platform.test\nArrival-Date: Tue, 1 Dec 2026 10:00:02 +0000\n\nFinal-Recipient: rfc822;${o.recipient}\nAction: failed\nStatus: 5.1.10\nDiagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient\n ${o.recipient} not found by SMTP address lookup`,
    },
    original: { type: 'text/rfc822-headers', body: originalHeaders(o) },
  });

const gmailDsn = (o: Original, status: string, diagnostic: string) =>
  multipartReport({
    from: 'Mail Delivery Subsystem <mailer-daemon@googlemail.com>',
    to: o.verp,
    subject: 'Delivery Status Notification (Failure)',
    reportType: 'delivery-status',
    human: `** Address not found **\n\nYour message wasn't delivered to ${o.recipient}.`,
    report: {
      type: 'message/delivery-status',
      body: `Reporting-MTA: dns; googlemail.com\nReceived-From-MTA: dns; mail.platform.test\nArrival-Date: Tue, 01 Dec 2026 02:00:02 -0800 (PST)\n\nFinal-Recipient: rfc822; ${o.recipient}\nAction: failed\nStatus: ${status}\nRemote-MTA: dns; gmail-smtp-in.l.google.com. (142.250.0.27, the server for the domain gmail.com.)\nDiagnostic-Code: smtp; ${diagnostic}\nLast-Attempt-Date: Tue, 01 Dec 2026 02:00:03 -0800 (PST)`,
    },
    original: { type: 'message/rfc822', body: `${originalHeaders(o)}\nbody` },
  });

const yahooArf = (o: Original) =>
  multipartReport({
    from: 'feedback@arf.mail.yahoo.com',
    to: o.verp,
    subject: 'FW: Your order',
    reportType: 'feedback-report',
    human: 'This is an email abuse report for an email message received from IP 192.0.2.10 on Tue, 1 Dec 2026 10:00:05 +0000',
    report: {
      type: 'message/feedback-report',
      body: `Feedback-Type: abuse\nUser-Agent: Yahoo!-Mail-Feedback/2.0\nVersion: 0.1\nOriginal-Mail-From: <${o.verp}>\nOriginal-Rcpt-To: <${o.recipient}>\nReceived-Date: Tue, 1 Dec 2026 10:00:05 +0000\nReported-Domain: platform.test\nAuthentication-Results: mta1000.mail.yahoo.com; dkim=pass header.d=platform.test`,
    },
    original: { type: 'message/rfc822', body: `${originalHeaders(o)}\nbody` },
  });

const autoReplies = (o: Original): [string, string][] => {
  const base = (headers: string, subject: string, body = 'I am away until Monday and will answer then. 550 5.1.1 user unknown') =>
    CRLF(`From: Person <${o.recipient}>\nTo: ${o.verp}\nSubject: ${subject}\nMessage-ID: <ar.${Math.random().toString(36).slice(2)}@example.org>\nIn-Reply-To: ${o.messageId}\n${headers}\n${body}\n`);
  return [
    ['Auto-Submitted: auto-replied', base('Auto-Submitted: auto-replied\n', 'Re: Your order')],
    ['X-Autoreply', base('X-Autoreply: yes\n', 'Re: Your order')],
    ['Precedence: auto_reply', base('Precedence: auto_reply\n', 'Away')],
    ['X-Autorespond', base('X-Autorespond: Your order\n', 'Thanks for writing')],
    ['Out of Office subject', base('', 'Out of Office: Your order')],
    ['Automatic reply subject (Exchange)', base('X-MS-Exchange-Inbox-Rules-Loop: person@example.org\n', 'Automatic reply: Your order')],
    ['Abwesenheitsnotiz subject', base('', 'Abwesenheitsnotiz: Your order')],
    // a human-written multipart reply that quotes words of a bounce is neither a report nor a bounce
    ['reply quoting a bounce', base('', 'Re: Your order', 'Why did I get "550 5.1.1 User unknown"?')],
  ];
};

/** Raw SMTP: each command's reply code, in order (multi-line replies read whole). */
async function smtpDialogue(port: number, commands: (string | Buffer)[], opts: { timeoutMs?: number } = {}): Promise<number[]> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setTimeout(opts.timeoutMs ?? 10_000, () => socket.destroy(new Error('smtp dialogue timed out')));
  let buffer = '';
  const codes: number[] = [];
  const waiters: (() => void)[] = [];
  socket.on('data', (d: Buffer) => {
    buffer += d.toString('latin1');
    let nl: number;
    while ((nl = buffer.indexOf('\r\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 2);
      if (/^\d{3} /.test(line)) {
        codes.push(Number(line.slice(0, 3)));
        waiters.shift()?.();
      }
    }
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => undefined);
  const next = (n: number) => (codes.length >= n ? Promise.resolve() : new Promise<void>((r) => waiters.push(r)));
  await Promise.race([next(1), closed]);
  for (const [i, c] of commands.entries()) {
    if (socket.destroyed) break;
    socket.write(typeof c === 'string' ? `${c}\r\n` : c);
    await Promise.race([next(i + 2), closed]);
  }
  socket.end();
  await closed;
  return codes;
}

describe('VERP return paths', () => {
  const signer = new ReturnPathSigner('a test secret');

  it('fits RFC 5321’s 64-octet local part for both kinds of email id, and names the email and recipient', () => {
    expect(RETURN_PATH_LOCAL_PART_OCTETS).toBeLessThanOrEqual(64);
    for (const id of [newEmailId(), newScheduledEmailId(), newScheduledEmailId(8_000_000_000_000)]) {
      for (const position of [null, 0, 1, 999, 65_534]) {
        const local = signer.localPart(id, position)!;
        expect(Buffer.byteLength(local)).toBe(RETURN_PATH_LOCAL_PART_OCTETS);
        expect(Buffer.byteLength(local)).toBeLessThanOrEqual(64);
        expect(local).toMatch(/^b\+[a-z2-7]+$/);
        expect(signer.read(`${local}@bounces.example.com`)).toEqual({ emailId: id, position });
        // a server that changes the case of the local part still reaches us
        expect(signer.read(`${local.toUpperCase()}@bounces.example.com`)).toEqual({ emailId: id, position });
      }
    }
  });

  it('ignores a forged, altered or foreign token', () => {
    const id = newEmailId();
    const local = signer.localPart(id, 1)!;
    for (let i = 2; i < local.length; i++) {
      const altered = `${local.slice(0, i)}${local[i] === 'a' ? 'b' : 'a'}${local.slice(i + 1)}`;
      expect(signer.read(`${altered}@x.test`)).toBeNull();
    }
    expect(new ReturnPathSigner('another installation').read(`${local}@x.test`)).toBeNull();
    expect(signer.read(`${local}a@x.test`)).toBeNull();
    expect(signer.read(`${local.slice(0, -1)}@x.test`)).toBeNull();
    expect(signer.read(`b+${id}@x.test`)).toBeNull();
    expect(signer.read(`${'b+'.padEnd(100_000, 'a')}@x.test`)).toBeNull();
  });

  it('carries no id it cannot rebuild (then delivery keeps the from address)', () => {
    expect(signer.localPart(`msg_1_${uuidv7(2)}`, 1)).toBeNull();
    expect(signer.localPart('msg_not_an_id', 1)).toBeNull();
    expect(signer.localPart(newEmailId(), 65_535)).toBeNull();
    expect(signer.localPart(newEmailId(), -1)).toBeNull();
  });
});

describe('the inbound role', () => {
  it('is a CLI server command of its own, which wants PostgreSQL like api and worker', async () => {
    const out: string[] = [];
    const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => out.push(t), env: { LOG_LEVEL: 'silent' } };
    expect(await run(['help', 'inbound'], io)).toBe(0);
    expect(out.join('')).toContain('inbound SMTP listener for bounces and complaints');
    out.length = 0;
    expect(await run(['inbound'], io)).toBe(1);
    expect(out.join('')).toContain("'inbound' runs one role");
    out.length = 0;
    expect(await run(['inbound'], { ...io, env: { ...io.env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' } })).toBe(1);
    expect(out.join('')).toContain('set INBOUND_SMTP_PORT');
  });

  it('listens only in a process with the role and INBOUND_SMTP_PORT set', async () => {
    const without = await startTestApp({ backend: 'pglite', env: { INBOUND_SMTP_PORT: '0', INBOUND_SMTP_HOST: '127.0.0.1' }, roles: { api: true, worker: false } });
    const unset = await startTestApp({ backend: 'pglite', roles: { api: false, worker: false, inbound: true } });
    try {
      expect(without.app.inbound).toBeNull();
      expect(unset.app.inbound).toBeNull();
    } finally {
      await without.close();
      await unset.close();
    }
  });
});

describe.each(BACKENDS)('inbound bounces and complaints on %s', (backend) => {
  let t: TestApp;
  let relay: SmtpSink;
  let ws: { id: string; adminKey: string; key: string };
  let port: number;
  let mailer: nodemailer.Transporter;

  beforeAll(async () => {
    relay = await startSmtpSink();
    t = await startTestApp({
      backend,
      env: {
        SMTP_URL: `smtp://127.0.0.1:${relay.port}`,
        DEFAULT_FROM,
        BOUNCE_DOMAIN,
        INBOUND_SMTP_PORT: '0',
        INBOUND_SMTP_HOST: '127.0.0.1',
        INBOUND_MAX_BYTES: String(256 * 1024),
        INBOUND_CONNECTIONS_PER_MINUTE: '1000',
      },
    });
    ws = await t.workspace();
    port = t.app.inbound!.port;
    mailer = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  });
  afterAll(async () => {
    mailer?.close();
    await t?.close();
    await relay?.close();
  });

  /** Sends an email through delivery to the relay; its MAIL FROM is the VERP return path. */
  async function sendOne(to: string, cc?: string): Promise<Original & { id: string }> {
    const sent = await call(`${t.url}/api/v1/send-email/instant`, { key: ws.key, body: { to, ...(cc ? { cc } : {}), subject: 'Your order', body: 'Thanks!' } });
    expect(sent.status, sent.text).toBe(200);
    const id = sent.body.id as string;
    const msg = await waitFor(async () => relay.messages.find((m) => m.to.includes(to)), { what: `relay got mail to ${to}` });
    await waitFor(async () => (await status(id)).status === 'sent', { what: `${id} sent` });
    const { message_id_header: messageId } = await t.app.services.database.db.selectFrom('messages').select('message_id_header').where('id', '=', id).executeTakeFirstOrThrow();
    return { id, verp: msg.from, recipient: to, messageId };
  }

  const status = async (id: string) => {
    const r = await t.app.services.database.db.selectFrom('messages').select('status').where('id', '=', id).executeTakeFirstOrThrow();
    const recipients = await t.app.services.database.db.selectFrom('message_recipients').select(['email', 'status']).where('message_id', '=', id).orderBy('position').execute();
    return { status: r.status, recipients: Object.fromEntries(recipients.map((x) => [x.email, x.status])) };
  };
  const reportEvents = (id: string) =>
    t.app.services.database.db.selectFrom('message_events').select(['type', 'recipient', 'smtp_response', 'detail']).where('message_id', '=', id).where('type', 'in', ['bounced', 'complained']).execute();
  const suppressionsOf = (email: string) => t.app.services.suppressions.find(ws.id, email);
  const deliver = (to: string, raw: string) => mailer.sendMail({ envelope: { from: '', to: [to] }, raw });

  it('sends mail as DEFAULT_FROM with a signed VERP MAIL FROM at BOUNCE_DOMAIN naming the email and its recipient', async () => {
    const o = await sendOne('verp-check@example.org');
    expect(o.verp).toMatch(new RegExp(`^b\\+[a-z2-7]{47}@${BOUNCE_DOMAIN.replace(/\./g, '\\.')}$`));
    expect(o.verp.split('@')[0]!.length).toBeLessThanOrEqual(64);
    expect(t.app.services.returnPaths.read(o.verp)).toEqual({ emailId: o.id, position: 0 });
    // several recipients in one envelope: no position, the report names its recipient
    const two = await sendOne('verp-a@example.org', 'verp-b@example.org');
    expect(t.app.services.returnPaths.read(two.verp)).toEqual({ emailId: two.id, position: null });
  });

  it('Postfix DSN: a hard bounce marks the recipient, writes the event and suppresses the address', async () => {
    const o = await sendOne('postfix-unknown@example.org');
    await deliver(o.verp, postfixDsn(o));
    expect(await status(o.id)).toEqual({ status: 'bounced', recipients: { [o.recipient]: 'bounced' } });
    const [event] = await reportEvents(o.id);
    expect(event).toMatchObject({ type: 'bounced', recipient: o.recipient, detail: { async: true, bounce_type: 'hard', code: '5.1.1' } });
    expect(event!.smtp_response).toContain('User unknown');
    expect(await suppressionsOf(o.recipient)).toMatchObject([{ scope: 'all', reason: 'hard_bounce', source_email_id: o.id }]);
    // the same report again records nothing new
    await deliver(o.verp, postfixDsn(o));
    expect(await reportEvents(o.id)).toHaveLength(1);
  });

  it('Exim plain-text bounce: found by its heuristics, the quoted original not read', async () => {
    const o = await sendOne('exim-unknown@example.org');
    await deliver(o.verp, eximPlainText(o));
    expect((await status(o.id)).recipients[o.recipient]).toBe('bounced');
    expect(await reportEvents(o.id)).toMatchObject([{ detail: { bounce_type: 'hard', code: '5.1.1' } }]);
    expect(await suppressionsOf('someone-else@example.org')).toEqual([]);
  });

  it('Exchange DSN with only the original’s headers, for one of two recipients', async () => {
    const o = await sendOne('exchange-gone@example.org', 'exchange-fine@example.org');
    await deliver(o.verp, exchangeDsn(o));
    expect(await status(o.id)).toEqual({ status: 'sent', recipients: { 'exchange-gone@example.org': 'bounced', 'exchange-fine@example.org': 'sent' } });
    expect(await reportEvents(o.id)).toMatchObject([{ recipient: 'exchange-gone@example.org', detail: { bounce_type: 'hard', code: '5.1.10' } }]);
    expect(await suppressionsOf('exchange-fine@example.org')).toEqual([]);
  });

  it('Gmail DSNs: a full mailbox is a soft bounce and a policy refusal a block, neither suppressed', async () => {
    const full = await sendOne('gmail-full@example.org');
    await deliver(full.verp, gmailDsn(full, '5.2.2', "552-5.2.2 The recipient's inbox is out of storage space."));
    expect(await reportEvents(full.id)).toMatchObject([{ detail: { bounce_type: 'soft', code: '5.2.2' } }]);
    const blocked = await sendOne('gmail-blocked@example.org');
    await deliver(blocked.verp, gmailDsn(blocked, '5.7.1', '550-5.7.1 Our system has detected an unusual rate of unsolicited mail.'));
    expect(await reportEvents(blocked.id)).toMatchObject([{ detail: { bounce_type: 'block', code: '5.7.1' } }]);
    expect(await suppressionsOf(full.recipient)).toEqual([]);
    expect(await suppressionsOf(blocked.recipient)).toEqual([]);
  });

  it('a headers-only DSN without a token is matched by the original’s Message-ID', async () => {
    const o = await sendOne('by-message-id@example.org');
    await deliver(`postmaster@${BOUNCE_DOMAIN}`, exchangeDsn({ ...o, verp: `postmaster@${BOUNCE_DOMAIN}` }));
    expect((await status(o.id)).recipients[o.recipient]).toBe('bounced');
    expect(await suppressionsOf(o.recipient)).toMatchObject([{ reason: 'hard_bounce' }]);
  });

  it('reads the report of a DSN whose returned original is far larger than what is parsed', async () => {
    const o = await sendOne('large-original@example.org');
    const raw = postfixDsn(o).replace('Thanks for your order!', `${'z'.repeat(998)}\r\n`.repeat(2000));
    expect(raw.length).toBeGreaterThan(1_000_000);
    const result = await t.app.services.inbound.receive([o.verp], Buffer.from(raw));
    expect(result).toMatchObject({ report: 'delivery_status', emailId: o.id, matchedBy: 'return_path', recorded: [{ recipient: o.recipient, kind: 'bounced', bounceClass: 'hard' }] });
  });

  it('a DSN with Action: delayed is not a bounce', async () => {
    const o = await sendOne('delayed@example.org');
    await deliver(o.verp, postfixDsn(o, '4.4.7', 'smtp; 451 4.4.7 Delivery delayed', 'delayed'));
    expect(await status(o.id)).toEqual({ status: 'sent', recipients: { [o.recipient]: 'sent' } });
    expect(await reportEvents(o.id)).toEqual([]);
  });

  it('Yahoo-style ARF: the recipient complained, and the address is suppressed', async () => {
    const o = await sendOne('yahoo-complainer@example.org');
    await deliver(o.verp, yahooArf(o));
    expect(await status(o.id)).toEqual({ status: 'sent', recipients: { [o.recipient]: 'sent' } });
    expect(await reportEvents(o.id)).toMatchObject([{ type: 'complained', recipient: o.recipient, detail: { async: true, feedback_type: 'feedback report: abuse' } }]);
    expect(await suppressionsOf(o.recipient)).toMatchObject([{ scope: 'all', reason: 'complaint', source_email_id: o.id }]);
  });

  it('auto-replies of every kind are recognised and never counted', async () => {
    const o = await sendOne('away@example.org');
    const replies = autoReplies(o);
    expect(replies.length).toBeGreaterThanOrEqual(5);
    for (const [, raw] of replies) await deliver(o.verp, raw);
    expect(await status(o.id)).toEqual({ status: 'sent', recipients: { [o.recipient]: 'sent' } });
    expect(await reportEvents(o.id)).toEqual([]);
    expect(await suppressionsOf(o.recipient)).toEqual([]);
    for (const [name, raw] of replies.slice(0, -1)) {
      expect((await t.app.services.inbound.receive([o.verp], Buffer.from(raw))).report, name).toBe('auto_reply');
    }
  });

  it('ignores a forged or altered token (and an unknown Message-ID): no false suppression', async () => {
    const o = await sendOne('forged@example.org');
    const [local, domain] = o.verp.split('@') as [string, string];
    const altered = `${local.slice(0, -1)}${local.endsWith('a') ? 'b' : 'a'}@${domain}`;
    await deliver(altered, postfixDsn({ ...o, verp: altered, messageId: '<msg_1_unknown@platform.test>' }));
    const forged = `b+${'a'.repeat(47)}@${BOUNCE_DOMAIN}`;
    await deliver(forged, yahooArf({ ...o, verp: forged, messageId: '<somebody-else@example.net>' }));
    expect(await status(o.id)).toEqual({ status: 'sent', recipients: { [o.recipient]: 'sent' } });
    expect(await reportEvents(o.id)).toEqual([]);
    expect(await suppressionsOf(o.recipient)).toEqual([]);
  });

  it('refuses mail for any other domain at RCPT with 550: never an open relay', async () => {
    const codes = await smtpDialogue(port, ['EHLO client.test', 'MAIL FROM:<a@example.net>', 'RCPT TO:<victim@example.com>', `RCPT TO:<b+x@${BOUNCE_DOMAIN}.evil.test>`, 'RCPT TO:<no-domain>', 'AUTH PLAIN AGFAYg==', 'QUIT']);
    expect(codes.slice(0, 3)).toEqual([220, 250, 250]);
    expect(codes[3]).toBe(550);
    expect(codes[4]).toBe(550);
    expect(codes[5]).toBeGreaterThanOrEqual(500);
    expect(codes[6]).toBeGreaterThanOrEqual(500);
  });

  it('takes mail for a verified MAIL FROM domain, not for one still pending', async () => {
    const db = t.app.services.database.db;
    const row = (name: string, mailFromStatus: 'verified' | 'pending') => ({ id: uuidv7(), workspace_id: ws.id, name, region: 'us-east-1', mail_from_domain: `bounces.${name}`, mail_from_status: mailFromStatus, verification_status: mailFromStatus });
    await db.insertInto('domains').values([row('shop.test', 'verified'), row('pending.test', 'pending')]).execute();
    const codes = await smtpDialogue(port, ['EHLO client.test', 'MAIL FROM:<>', 'RCPT TO:<x@bounces.shop.test>', 'RCPT TO:<x@BOUNCES.SHOP.TEST>', 'RCPT TO:<x@bounces.pending.test>', 'QUIT']);
    expect(codes).toEqual([220, 250, 250, 250, 250, 550, 221]);
  });

  it('survives malformed input and answers the next client', async () => {
    // binary junk and an endless line: the line closes the connection (421), nothing else happens
    const junk = await smtpDialogue(port, ['EHLO client.test', Buffer.from([0, 1, 2, 255, 254, 13, 10]), 'X'.repeat(20_000)]);
    expect(junk[0]).toBe(220);
    expect(junk.at(-1)).toBe(421);
    // broken commands, then reports that are no valid MIME at all: taken (250), read as nothing
    const codes = await smtpDialogue(port, [
      'EHLO client.test',
      'MAIL FROM:<<<>>>',
      'RCPT TO:<>',
      'DATA',
      'MAIL FROM:<>',
      `RCPT TO:<b+zzzz@${BOUNCE_DOMAIN}>`,
      'DATA',
      CRLF(
        `Content-Type: multipart/report; report-type=delivery-status; boundary="\nSubject: \u0000\u00ff\n\n--\n--x\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822;\nAction: failed\nStatus: 5.999999.1\n\n${'Final-Recipient: ;\n'.repeat(2000)}\n.`,
      ),
      'MAIL FROM:<>',
      `RCPT TO:<b+zzzz@${BOUNCE_DOMAIN}>`,
      'DATA',
      CRLF(`Content-Type: multipart/mixed; boundary=a\n\n${'--a\nContent-Type: multipart/mixed; boundary=a\n\n'.repeat(500)}\n.`),
      'QUIT',
    ]);
    expect(codes[0]).toBe(220);
    expect(codes.at(-1)).toBe(221);
    expect(codes.filter((c) => c === 250).length).toBeGreaterThanOrEqual(5);
    // a message over INBOUND_MAX_BYTES is refused whole
    const big = await smtpDialogue(port, ['EHLO client.test', 'MAIL FROM:<>', `RCPT TO:<x@${BOUNCE_DOMAIN}>`, 'DATA', `Subject: big\r\n\r\n${'y'.repeat(998)}\r\n`.repeat(300) + '.']);
    expect(big.at(-1)).toBe(552);
    // and the listener still works
    const o = await sendOne('after-garbage@example.org');
    await deliver(o.verp, postfixDsn(o));
    expect((await status(o.id)).recipients[o.recipient]).toBe('bounced');
  });

  it('reads hostile report text in time linear in its size', async () => {
    const o = await sendOne('hostile-text@example.org');
    const head = `From: MAILER-DAEMON@mx.example.net\r\nTo: ${o.verp}\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\n`;
    const bodies = [
      '-'.repeat(250_000),
      `${'a@'.repeat(60_000)}`,
      `${'a.'.repeat(60_000)}@${'b.'.repeat(60_000)}`,
      `${`${'x'.repeat(60)}@${'y-'.repeat(100)}.example 550 5.1.1 `.repeat(400)}\r\n`.repeat(20),
      `--- ${'original message '.repeat(10_000)}`,
    ];
    const started = performance.now();
    for (const body of bodies) {
      const result = await t.app.services.inbound.receive([o.verp], Buffer.from(head + body));
      expect(result.recorded).toEqual([]);
    }
    // generous: linear work on a few hundred KB takes milliseconds; quadratic work would take minutes
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(await suppressionsOf(o.recipient)).toEqual([]);
  });

  it('suppressed exactly the hard bounces and the complaint of the corpus: no false suppression', async () => {
    const rows = await t.app.services.database.db.selectFrom('suppressions').select(['email', 'reason', 'scope']).where('workspace_id', '=', ws.id).orderBy('email').execute();
    expect(rows).toEqual(
      [
        ['after-garbage@example.org', 'hard_bounce'],
        ['by-message-id@example.org', 'hard_bounce'],
        ['exchange-gone@example.org', 'hard_bounce'],
        ['exim-unknown@example.org', 'hard_bounce'],
        ['large-original@example.org', 'hard_bounce'],
        ['postfix-unknown@example.org', 'hard_bounce'],
        ['yahoo-complainer@example.org', 'complaint'],
      ].map(([email, reason]) => ({ email, reason, scope: 'all' })),
    );
  });

  it('limits connections per client address per minute', async () => {
    const limited = await startTestApp({ backend: 'pglite', env: { INBOUND_SMTP_PORT: '0', INBOUND_SMTP_HOST: '127.0.0.1', BOUNCE_DOMAIN, INBOUND_CONNECTIONS_PER_MINUTE: '2' }, roles: { api: false, worker: false, inbound: true } });
    try {
      const p = limited.app.inbound!.port;
      // the limit counts in fixed wall-clock minutes: start early in one so the three connections share it
      const leftInMinute = 60_000 - (Date.now() % 60_000);
      if (leftInMinute < 10_000) await new Promise((resolve) => setTimeout(resolve, leftInMinute + 50));
      const greetings = [];
      for (let i = 0; i < 3; i++) greetings.push((await smtpDialogue(p, ['QUIT']))[0]);
      expect(greetings).toEqual([220, 220, 421]);
    } finally {
      await limited.close();
    }
  });
});
