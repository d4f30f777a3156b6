import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';

describe.each(BACKENDS)('templates on %s', (backend) => {
  let t: TestApp;
  let ws: { id: string; adminKey: string; key: string };

  beforeAll(async () => {
    t = await startTestApp({ backend });
    ws = await t.workspace();
  });
  afterAll(() => t?.close());

  const save = (body: unknown, key = ws.key) => call(`${t.url}/api/v1/templates/save`, { key, body });
  const send = (body: unknown, key = ws.key) => call(`${t.url}/api/v1/send-email/instant`, { key, body });

  /** What the capture transport kept for an email, decoded enough to assert on. */
  async function capturedRaw(emailId: string, key = ws.key): Promise<string> {
    const found = await waitFor(async () => {
      const r = await call(`${t.url}/api/v1/captured?email_id=${emailId}`, { key });
      return (r.body.data as { messages: { id: string }[] }).messages[0];
    }, { what: `capture of ${emailId}` });
    const r = await call(`${t.url}/api/v1/captured/${found.id}`, { key });
    return (r.body.data as { raw: string }).raw;
  }

  it('data that cannot be printed (an object whose toString is not a function) is a 400, on the event loop and on a thread', async () => {
    const tpl = (await save({ name: 'Unprintable', subject: 'S {{o}}', html: '<p>{{o}}</p>' })).body.data as { id: string };
    for (const params of [{ o: { toString: null } }, { o: { toString: null }, pad: 'x'.repeat(300_000) }]) {
      const sent = await send({ to: 'a@example.test', template_id: tpl.id, params });
      expect([sent.status, sent.body.error]).toEqual([400, 'INVALID_TEMPLATE']);
      const preview = await call(`${t.url}/api/v1/templates/${tpl.id}/render`, { key: ws.key, body: { params } });
      expect([preview.status, preview.body.error]).toEqual([400, 'INVALID_TEMPLATE']);
    }
  });

  it('saves, lists and gets a template; sending renders it with params, escaping HTML but not the subject', async () => {
    const saved = await save({ name: 'Welcome', subject: 'Welcome, {{name}}!', html: '<p>Hi {{name}}, your code is {{{code}}}. {{default city "somewhere"}}</p>', required_variables: ['name'] });
    expect(saved.status).toBe(200);
    const tpl = saved.body.data as { id: string; version: number };
    expect(tpl.version).toBe(1);
    const list = await call(`${t.url}/api/v1/templates`, { key: ws.key });
    expect((list.body.data as { id: string }[]).map((x) => x.id)).toContain(tpl.id);

    const sent = await send({ to: 'a@example.test', template_id: tpl.id, params: { name: 'Tom & <Jerry>', code: '<b>42</b>' } });
    expect(sent.status).toBe(200);
    expect(sent.body.subject).toBe('Welcome, Tom & <Jerry>!');
    const raw = await capturedRaw(sent.body.id as string);
    expect(raw).toContain('Hi Tom &amp; &lt;Jerry&gt;, your code is <b>42</b>. somewhere');
    expect(raw).toMatch(/Subject: =\?UTF-8\?|Subject: Welcome, Tom & <Jerry>!/);
  });

  it('accepts template_data as params, lets a request subject override the template subject', async () => {
    const tpl = (await save({ name: 'Alias', subject: 'Template subject', html: '<p>{{greeting}}</p>' })).body.data as { id: string };
    const sent = await send({ to: 'a@example.test', template_id: tpl.id, template_data: { greeting: 'hello alias' }, subject: 'Override' });
    expect(sent.body.subject).toBe('Override');
    expect(await capturedRaw(sent.body.id as string)).toContain('hello alias');
  });

  it('missing required variable → 422 naming it; unknown or foreign template → 400 INVALID_TEMPLATE', async () => {
    const tpl = (await save({ name: 'Strict', subject: 'Order {{order.id}}', html: '<p>{{order.id}}</p>', required_variables: ['order.id', 'name'] })).body.data as { id: string };
    const missing = await send({ to: 'a@example.test', template_id: tpl.id, params: { order: { id: 7 } } });
    expect(missing.status).toBe(422);
    expect(missing.body.error).toBe('TEMPLATE_PARAMETER_MISSING');
    expect(missing.body.message).toContain('name');
    expect(missing.body.missing_variables).toEqual(['name']);

    const unknown = await send({ to: 'a@example.test', template_id: 'tpl_does_not_exist' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('INVALID_TEMPLATE');
    const other = await t.workspace();
    const foreign = await send({ to: 'a@example.test', template_id: tpl.id, params: { order: { id: 1 }, name: 'x' } }, other.key);
    expect(foreign.status).toBe(400);
    expect(foreign.body.error).toBe('INVALID_TEMPLATE');
  });

  it('provides {{unsubscribeUrl}} and {{viewInBrowserUrl}}, which lead to working hosted pages', async () => {
    const tpl = (await save({ name: 'System', subject: 'S', html: '<p>Body <a href="{{viewInBrowserUrl}}">view</a> <a href="{{unsubscribeUrl}}">unsub</a></p>' })).body.data as { id: string };
    const sent = await send({ to: 'a@example.test', template_id: tpl.id });
    const raw = await capturedRaw(sent.body.id as string);
    const view = /href="(http:\/\/[^"]+\/v\/[^"]+)"/.exec(raw.replace(/=\r\n/g, '').replace(/=3D/g, '='))![1]!;
    const unsub = /href="(http:\/\/[^"]+\/u\/[^"]+)"/.exec(raw.replace(/=\r\n/g, '').replace(/=3D/g, '='))![1]!;
    expect(view.startsWith(t.config.publicUrl)).toBe(true);
    const page = await fetch(view);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Body');
    const tampered = await fetch(view.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')));
    expect(tampered.status).toBe(404);
    const oneClick = await fetch(unsub, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect(oneClick.status).toBe(200);
    const email = await call(`${t.url}/api/v1/public/emails/get-email?id=${sent.body.id as string}`, { key: ws.key });
    expect((email.body.data as { events: { type: string }[] }).events.map((e) => e.type)).toContain('unsubscribed');
  });

  it('versions: an update makes a new version; an email uses the version current when it was accepted', async () => {
    const tpl = (await save({ name: 'Versioned', subject: 'v', html: '<p>first {{x}}</p>' })).body.data as { id: string };
    const before = await send({ to: 'a@example.test', template_id: tpl.id, params: { x: 1 } });
    const updated = await call(`${t.url}/api/v1/templates/${tpl.id}`, { method: 'PUT', key: ws.key, body: { html: '<p>second {{x}}</p>' } });
    expect((updated.body.data as { version: number; subject: string }).version).toBe(2);
    expect((updated.body.data as { subject: string }).subject).toBe('v');
    const after = await send({ to: 'a@example.test', template_id: tpl.id, params: { x: 2 } });
    expect(await capturedRaw(before.body.id as string)).toContain('first 1');
    expect(await capturedRaw(after.body.id as string)).toContain('second 2');
    const email = await call(`${t.url}/api/v1/public/emails/get-email?id=${before.body.id as string}`, { key: ws.key });
    expect(email.body).toMatchObject({ template_id: tpl.id, template_version: 1 });
    const v1 = await call(`${t.url}/api/v1/templates/${tpl.id}/render`, { key: ws.key, body: { params: { x: 'p' }, version: 1 } });
    expect((v1.body.data as { html: string }).html).toBe('<p>first p</p>');
    // a version that cannot exist is a 404, even one beyond the database's integer range
    for (const version of [0, -1, 3, 2 ** 31, 1e20]) {
      const missing = await call(`${t.url}/api/v1/templates/${tpl.id}/render`, { key: ws.key, body: { version } });
      expect([missing.status, missing.body.code], `version ${version}`).toEqual([404, 'NOT_FOUND']);
    }
  });

  it('compiles MJML and the blocks form at save time, and renders previews', async () => {
    const mjml = await save({ name: 'MJML', subject: 'm', mjml: '<mjml><mj-body><mj-section><mj-column><mj-text>Hello {{name}}</mj-text></mj-column></mj-section></mj-body></mjml>' });
    expect(mjml.status).toBe(200);
    const m = mjml.body.data as { id: string; html: string; source_format: string };
    expect(m.source_format).toBe('mjml');
    expect(m.html).toContain('<!doctype html>');
    const preview = await call(`${t.url}/api/v1/templates/${m.id}/render`, { key: ws.key, body: { params: { name: 'Ann' } } });
    expect((preview.body.data as { html: string }).html).toContain('Hello Ann');

    const blocks = await save({ name: 'Blocks', description: 'd', category: 'onboarding', workspace_id: ws.id, blocks: [{ type: 'header', content: { text: 'Hi {{name}}' } }, { type: 'button', content: { text: 'Go', url: '{{link}}' } }, { type: 'text', content: { text: 'a < b' } }] });
    expect(blocks.status).toBe(200);
    const b = blocks.body.data as { id: string; html: string; source_format: string };
    expect(b.source_format).toBe('blocks');
    const r = await call(`${t.url}/api/v1/templates/${b.id}/render`, { key: ws.key, body: { params: { name: 'Bo', link: 'https://example.test/go' } } });
    const html = (r.body.data as { html: string }).html;
    expect(html).toContain('Hi Bo');
    expect(html).toContain('href="https://example.test/go"');
    expect(html).toContain('a &lt; b');
  });

  it('refuses a syntax error at save, and deleting a template makes it unusable', async () => {
    const bad = await save({ name: 'Bad', subject: 'x', html: '{{#if}}' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('syntax error');
    const tpl = (await save({ name: 'Doomed', subject: 'x', html: '<p>x</p>' })).body.data as { id: string };
    expect((await call(`${t.url}/api/v1/templates/${tpl.id}`, { method: 'DELETE', key: ws.key })).status).toBe(200);
    expect((await call(`${t.url}/api/v1/templates/${tpl.id}`, { key: ws.key })).status).toBe(404);
    expect((await send({ to: 'a@example.test', template_id: tpl.id })).body.error).toBe('INVALID_TEMPLATE');
    expect((await call(`${t.url}/api/v1/templates/not-a-uuid`, { key: ws.key })).status).toBe(404);
  });

  it('accepts admin keys as well as regular keys on template routes', async () => {
    const res = await save({ name: 'By admin', subject: 's', html: '<p>a</p>' }, ws.adminKey);
    expect(res.status).toBe(200);
  });
});
