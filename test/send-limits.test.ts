import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEND_LIMITS as L } from '../src/modules/sending/limits.js';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';

describe.each(BACKENDS)('send field limits and platform-owned headers on %s', (backend) => {
  let t: TestApp;
  let ws: { id: string; adminKey: string; key: string };

  beforeAll(async () => {
    t = await startTestApp({ backend });
    ws = await t.workspace();
  });
  afterAll(() => t?.close());

  const base = { to: 'a@example.test', subject: 's', body: 'b' };
  const send = (body: Record<string, unknown>) => call(`${t.url}/api/v1/send-email/async`, { key: ws.key, body: { ...base, ...body } });
  const refused = async (body: Record<string, unknown>, message: string) => {
    const res = await send(body);
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(400);
    expect(res.body.error).toBe('VALIDATION_ERROR');
    expect(res.body.message).toContain(message);
  };
  const many = <T>(n: number, f: (i: number) => T) => Array.from({ length: n }, (_, i) => f(i));
  const address = (i: number) => `r${i}@example.test`;

  it('the review\'s inputs: a 30 MB metadata and 20,000 reply_to addresses', async () => {
    await refused({ metadata: { blob: 'x'.repeat(30 * 1024 * 1024) } }, "Field 'metadata' is too large");
    await refused({ reply_to: many(20_000, address) }, "Field 'reply_to' may hold at most 10 addresses");
  });

  it('each limit is refused with 400 naming the field; the limit itself is accepted', async () => {
    const cases: [Record<string, unknown>, Record<string, unknown>, string][] = [
      [{ to: [address(1), { email: address(2), name: 'n'.repeat(L.nameChars) }] }, { to: [address(1), { email: address(2), name: 'n'.repeat(L.nameChars + 1) }] }, "Field 'to[1].name' is longer than 200 characters"],
      [{ cc: `${'n'.repeat(L.nameChars)} <${address(1)}>` }, { cc: `${'n'.repeat(L.addressEntryChars)} <${address(1)}>` }, "Field 'cc' is longer than 500 characters"],
      [{ from: 's@example.test', from_name: 'n'.repeat(L.nameChars) }, { from: 's@example.test', fromName: 'n'.repeat(L.nameChars + 1) }, "Field 'fromName' is longer than 200 characters"],
      [{ subject: 'x'.repeat(L.subjectChars) }, { subject: 'x'.repeat(L.subjectChars + 1) }, "Field 'subject' is longer than 1000 characters"],
      [{ metadata: Object.fromEntries(many(L.metadataKeys, (i) => [`k${i}`, i])) }, { metadata: Object.fromEntries(many(L.metadataKeys + 1, (i) => [`k${i}`, i])) }, "Field 'metadata' may hold at most 50 keys"],
      [{ meta: { a: 'x'.repeat(L.metadataBytes - 10) } }, { meta: { a: 'x'.repeat(L.metadataBytes) } }, "Field 'meta' is too large: at most 16384 bytes"],
      [{ tags: many(L.tags, (i) => `t${i}`) }, { tags: many(L.tags + 1, (i) => `t${i}`) }, "Field 'tags' may hold at most 20 tags"],
      [{ tags: ['ok', 'x'.repeat(L.tagChars)] }, { tags: ['ok', 'x'.repeat(L.tagChars + 1)] }, "Field 'tags[1]' is longer than 100 characters"],
      [{ reply_to: many(L.replyTo, address) }, { replyTo: many(L.replyTo + 1, address) }, "Field 'replyTo' may hold at most 10 addresses"],
      [{ reply_to: many(L.replyTo, address).join(',') }, { reply_to: many(L.replyTo + 1, address).join(',') }, "Field 'reply_to' may hold at most 10 addresses"],
      [{ headers: Object.fromEntries(many(L.headers, (i) => [`X-H${i}`, 'v'])) }, { headers: Object.fromEntries(many(30, (i) => [`X-H${i}`, 'v'])), custom_headers: many(21, (i) => ({ name: `X-C${i}`, value: 'v' })) }, 'at most 50 headers together'],
      [{ headers: { 'X-Big': 'x'.repeat(L.headersBytes - 20) } }, { headers: { 'X-Big': 'x'.repeat(L.headersBytes) } }, "Fields 'headers' and 'custom_headers' are too large"],
      [{ attachments: many(L.attachments, (i) => ({ filename: `f${i}.txt`, content: 'aGk=' })) }, { attachments: many(L.attachments + 1, (i) => ({ filename: `f${i}.txt`, content: 'aGk=' })) }, "Field 'attachments' may hold at most 50 attachments"],
      [{ attachments: [{ filename: `${'n'.repeat(L.filenameChars - 4)}.txt`, content: 'aGk=' }] }, { attachments: [{ filename: `${'n'.repeat(L.filenameChars)}.txt`, content: 'aGk=' }] }, "Field 'attachments[0].filename' is longer than 255 characters"],
      [{ attachments: [{ filename: 'a.png', content: 'aGk=', content_id: 'c'.repeat(L.contentIdChars) }] }, { attachments: [{ filename: 'a.png', content: 'aGk=', content_id: 'c'.repeat(L.contentIdChars + 1) }] }, "Field 'attachments[0].content_id' is longer than 255 characters"],
    ];
    for (const [ok, over, message] of cases) {
      const accepted = await send(ok);
      expect(accepted.status, `${message}: ${JSON.stringify(accepted.body).slice(0, 300)}`).toBe(200);
      await refused(over, message);
    }
  });

  it('template params have a size limit too (TEMPLATE_DATA_MAX_BYTES), under either name', async () => {
    const saved = await call(`${t.url}/api/v1/templates/save`, { key: ws.key, body: { name: 'p', subject: 'Hi', html: '<p>{{x}}</p>' } });
    const template_id = (saved.body.data as { id: string }).id;
    const tpl = { to: 'a@example.test', subject: undefined, body: undefined, template_id };
    const max = t.config.content.templateDataMaxBytes;
    expect((await send({ ...tpl, params: { x: 'y'.repeat(max - 1000) } })).status).toBe(200);
    for (const name of ['params', 'template_data']) {
      const res = await send({ ...tpl, [name]: { x: 'y'.repeat(max) } });
      expect([res.status, res.body.error, res.body.limit]).toEqual([422, 'TEMPLATE_LIMIT_EXCEEDED', 'TEMPLATE_DATA_MAX_BYTES']);
    }
  });

  it('limits apply on the schedule endpoint too', async () => {
    const res = await call(`${t.url}/api/v1/send-email/schedule`, { key: ws.key, body: { scheduled_at: new Date(Date.now() + 3_600_000).toISOString(), email: { ...base, tags: many(21, String) } } });
    expect([res.status, res.body.message]).toEqual([400, "Field 'tags' may hold at most 20 tags"]);
  });

  it('Resent-*, Disposition-Notification-To and Return-Receipt-To are platform-owned', async () => {
    for (const name of ['Resent-From', 'RESENT-DATE', 'resent-message-id', 'Disposition-Notification-To', 'Disposition-Notification-Options', 'Return-Receipt-To']) {
      await refused({ headers: { [name]: 'x@example.test' } }, `may not set the reserved header '${name}'`);
      await refused({ custom_headers: [{ name, value: 'x@example.test' }] }, `Field 'custom_headers' may not set the reserved header '${name}'`);
    }
  });

  it('List-Unsubscribe is accepted only as <https:…>/<mailto:…> URIs, List-Unsubscribe-Post only as RFC 8058 one-click', async () => {
    for (const value of ['http://evil.example/u', '<http://plain.example/u>', '<javascript:alert(1)>', 'mailto:a@example.test', '<https://a.example/u> junk', '<https://>', '<https://a.example/ x>', [1, 2, 3, 4, 5].map((i) => `<mailto:u${i}@example.test>`).join(', ')]) {
      await refused({ headers: { 'List-Unsubscribe': value } }, "Field 'headers.List-Unsubscribe' must be a comma-separated list of at most 4 <https://…> or <mailto:…> URIs");
    }
    await refused({ custom_headers: [{ name: 'list-unsubscribe-post', value: 'List-Unsubscribe=One-Click' }] }, "Field 'custom_headers.list-unsubscribe-post' must be exactly 'List-Unsubscribe=One-Click'");
    await refused({ headers: { 'List-Unsubscribe': '<mailto:u@example.test>', 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' } }, 'next to a List-Unsubscribe with an <https://…> URI');
    await refused({ headers: { 'List-Unsubscribe': '<https://a.example/u>', 'List-Unsubscribe-Post': 'yes' } }, "must be exactly 'List-Unsubscribe=One-Click'");

    const value = '<https://lists.example/u/abc?x=1>, <mailto:unsubscribe@lists.example?subject=stop>';
    const ok = await send({ headers: { 'List-Unsubscribe': value, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' } });
    expect(ok.status).toBe(200);
    const captured = await waitFor(async () => {
      const r = await call(`${t.url}/api/v1/captured?email_id=${ok.body.id as string}`, { key: ws.key });
      return (r.body.data as { messages: { id: string }[] }).messages[0];
    });
    const raw = ((await call(`${t.url}/api/v1/captured/${captured.id}`, { key: ws.key })).body.data as { raw: string }).raw.replace(/\r\n[ \t]+/g, ' ');
    expect(raw).toContain(`List-Unsubscribe: ${value}`);
    expect(raw).toContain('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
  });

  it('an attachment content_type is a bare type/subtype: parameters are refused', async () => {
    for (const contentType of ['text/plain; name=x', 'text/plain;charset=utf-8', 'text/plain ; a=b', 'text', 'text/plain\tx', '/plain', 'text/']) {
      await refused({ attachments: [{ filename: 'a.txt', content: 'aGk=', content_type: contentType }] }, "Field 'attachments[0].content_type' must be a bare media type");
    }
    await refused({ attachments: [{ filename: 'a.txt', content: 'aGk=' }, { filename: 'b', content: 'aGk=', contentType: 'application/pdf; x=y' }] }, "Field 'attachments[1].content_type'");
    for (const contentType of ['text/plain', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'image/svg+xml', ' TEXT/CSV ']) {
      expect((await send({ attachments: [{ filename: 'a', content: 'aGk=', content_type: contentType }] })).status, contentType).toBe(200);
    }
  });
});
