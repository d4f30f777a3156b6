import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mjml2html from 'mjml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { uuidv7 } from '../src/platform/ids.js';
import * as templateStore from '../src/modules/templates/store.js';
import { decodedPart, healthWhile } from './support/mime.js';

/** A template using every helper and construct, and its output as rendered before templates moved to the pool. */
const GOLDEN = {
  template: {
    subject: 'Order {{order.id}} for {{uppercase name}}',
    html: '<h1>Hi {{name}}</h1>{{#each items}}<tr><td>{{@index}}</td><td>{{this.title}}</td><td>{{{this.badge}}}</td></tr>{{else}}<p>none</p>{{/each}}{{#if vip}}<b>VIP</b>{{else}}regular{{/if}} {{formatDate when "dd LLL yyyy HH:mm" tz="Europe/Paris"}} {{default nickname "friend"}} <a href="https://x.test/?q={{urlEncode q}}">go</a> {{#with order}}{{id}}/{{../name}}{{/with}} {{lookup order "id"}} {{#if (eq a b)}}same{{/if}}{{#items}}[{{title}}]{{/items}}',
    text: 'Hi {{name}} & {{lowercase shout}}',
  },
  params: { name: 'Tom & <Jerry>', items: [{ title: '<i>a</i>', badge: '<b>1</b>' }, { title: 'b"c', badge: '' }], vip: true, when: '2026-06-01T09:00:00Z', q: 'a b&c', order: { id: 7 }, a: 1, b: 1, shout: 'LOUD' },
  subject: 'Order 7 for TOM & <JERRY>',
  html: '<h1>Hi Tom &amp; &lt;Jerry&gt;</h1><tr><td>0</td><td>&lt;i&gt;a&lt;/i&gt;</td><td><b>1</b></td></tr><tr><td>1</td><td>b&quot;c</td><td></td></tr><b>VIP</b> 01 Jun 2026 11:00 friend <a href="https://x.test/?q=a%20b%26c">go</a> 7/Tom &amp; &lt;Jerry&gt; 7 same[&lt;i&gt;a&lt;/i&gt;][b&quot;c]',
  text: 'Hi Tom & <Jerry> & loud',
};

/** 250 items: a request of about 1 KB. Three nested loops over them make 15.6 million iterations. */
const ITEMS = Array.from({ length: 250 }, (_, i) => i % 10);

/** An MJML document whose inlined CSS grows with rules × elements: 85 KB took more than 300 s to compile. */
const ADVERSARIAL_MJML =
  `<mjml><mj-head><mj-style inline="inline">${Array.from({ length: 3000 }, (_, i) => `* { margin-${i}: 0; }`).join('\n')}</mj-style></mj-head>` +
  `<mj-body>${'<mj-section><mj-column><mj-text>x</mj-text></mj-column></mj-section>'.repeat(300)}</mj-body></mjml>`;

const VALID_MJML = '<mjml><mj-body><mj-section><mj-column><mj-text font-size="18px">Hello {{name}}</mj-text><mj-button href="{{link}}">Go</mj-button></mj-column></mj-section></mj-body></mjml>';

describe.each(BACKENDS)('limits on templates and content on %s', (backend) => {
  let t: TestApp;
  let ws: { id: string; adminKey: string; key: string };
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'keplars-content-'));

  beforeAll(async () => {
    t = await startTestApp({ backend });
    ws = await t.workspace();
  });
  afterAll(async () => {
    await t?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const save = (body: unknown) => call(`${t.url}/api/v1/templates/save`, { key: ws.key, body });
  const preview = (id: string, params: unknown) => call(`${t.url}/api/v1/templates/${id}/render`, { key: ws.key, body: { params } });
  const send = (body: unknown, tier = 'instant') => call(`${t.url}/api/v1/send-email/${tier}`, { key: ws.key, body });
  const saved = async (body: Record<string, unknown>) => {
    const res = await save({ name: 'T', subject: 's', ...body });
    expect(res.status, res.text).toBe(200);
    return (res.body.data as { id: string; html: string }).id;
  };
  async function captured(emailId: string, timeoutMs = 15_000): Promise<string> {
    const found = await waitFor(async () => {
      const r = await call(`${t.url}/api/v1/captured?email_id=${emailId}`, { key: ws.key });
      return (r.body.data as { messages: { id: string }[] }).messages[0];
    }, { what: `capture of ${emailId}`, timeoutMs });
    return ((await call(`${t.url}/api/v1/captured/${found.id}`, { key: ws.key })).body.data as { raw: string }).raw;
  }
  const tasks = () => t.app.services.content.tasksStarted;

  it('refuses the nested-each blow-up with TEMPLATE_LIMIT_EXCEEDED, in preview and send, while /health answers within 1 s', async () => {
    // 200 bytes a pass reach the byte limit in 26,000 of the 15.6 million passes: well inside the render's 2 s even
    // on a slow, busy machine, so it is the byte limit that stops it (with 8 bytes a pass the clock could win)
    const id = await saved({ html: `{{#each a}}{{#each ../a}}{{#each ../../a}}<p>{{this}}${'x'.repeat(192)}</p>{{/each}}{{/each}}{{/each}}` });
    expect(JSON.stringify({ params: { a: ITEMS } }).length).toBeLessThan(2048);
    const { result, slowestHealthMs } = await healthWhile(t.url, Promise.all([preview(id, { a: ITEMS }), send({ to: 'a@example.test', template_id: id, params: { a: ITEMS } })]));
    for (const res of result) {
      expect(res.status).toBe(422);
      expect(res.body).toMatchObject({ success: false, error: 'TEMPLATE_LIMIT_EXCEEDED', code: 'TEMPLATE_LIMIT_EXCEEDED', limit: 'TEMPLATE_RENDER_MAX_BYTES' });
      expect(res.body.message).toContain('more than 5242880 bytes (TEMPLATE_RENDER_MAX_BYTES)');
    }
    expect(slowestHealthMs).toBeLessThan(1000);
  });

  it('stops a render that outlives TEMPLATE_RENDER_TIMEOUT_MS, while /health answers within 1 s', async () => {
    const id = await saved({ html: '{{#each a}}{{#each ../a}}{{#each ../../a}}{{#each ../../../a}}{{/each}}{{/each}}{{/each}}{{/each}}' });
    const { result, slowestHealthMs } = await healthWhile(t.url, preview(id, { a: ITEMS }));
    expect(result.status).toBe(422);
    expect(result.body).toMatchObject({ error: 'TEMPLATE_LIMIT_EXCEEDED', limit: 'TEMPLATE_RENDER_TIMEOUT_MS' });
    expect(result.body.message).toBe('Rendering the template took longer than 2000 ms (TEMPLATE_RENDER_TIMEOUT_MS) and was stopped');
    expect(slowestHealthMs).toBeLessThan(1000);
    // the thread was replaced: the next render works
    expect((await preview(await saved({ html: 'after {{x}}' }), { x: 1 })).body.data).toMatchObject({ html: 'after 1' });
  });

  it('renders a normal template byte for byte as before: on the event loop when small, on a thread when its data is large', async () => {
    const id = await saved(GOLDEN.template);
    const expected = { subject: GOLDEN.subject, html: GOLDEN.html, text: GOLDEN.text };
    expect((await preview(id, GOLDEN.params)).body.data).toMatchObject(expected); // compiles on a thread
    const before = tasks();
    expect((await preview(id, GOLDEN.params)).body.data).toMatchObject(expected);
    expect(tasks()).toBe(before); // compiled once: a small render stays on the event loop
    const padded = { ...GOLDEN.params, unused: 'x'.repeat(300_000) };
    expect((await preview(id, padded)).body.data).toMatchObject(expected);
    expect(tasks()).toBe(before + 1); // too much data for the inline bound: rendered on a thread

    for (const params of [GOLDEN.params, padded]) {
      // untracked: the delivered HTML is compared byte for byte
      const sent = await send({ to: 'a@example.test', template_id: id, params, track_opens: false, track_clicks: false });
      expect(sent.status).toBe(200);
      expect(sent.body.subject).toBe(GOLDEN.subject);
      const raw = await captured(sent.body.id as string);
      expect(decodedPart(raw, 'text/html')).toBe(GOLDEN.html);
      expect(decodedPart(raw, 'text/plain')).toBe(GOLDEN.text);
    }
  });

  it('refuses {{log}}, a missing partial and other constructs that fail when rendered, at save, with INVALID_TEMPLATE', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ html: '<p>{{log "written into the server log"}}</p>' }, /^Template html, line 1: \{\{log\}\} is not available in templates$/],
      [{ html: '<p>\n{{> nope}}</p>' }, /^Template html, line 2: the partial 'nope' does not exist: templates cannot use partials$/],
      [{ html: '{{#> layout}}x{{/layout}}' }, /the partial 'layout' does not exist/],
      [{ html: '{{#*inline "row"}}x{{/inline}}' }, /decorators/],
      [{ html: '{{* deco}}' }, /decorators/],
      [{ html: '{{shout name}}' }, /'shout' is not a helper/],
      [{ html: '<p>{{#if}}x{{/if}}</p>' }, /\{\{#if\}\} takes exactly one value/],
      [{ html: '<p>x</p>', text: '{{each items}}' }, /^Template text, line 1: 'each' needs a block/],
      [{ html: '<p>x</p>', subject: '{{lookup order}}' }, /^Template subject, line 1: \{\{lookup\}\} takes an object and a key/],
    ];
    for (const [fields, message] of cases) {
      const res = await save({ name: 'Bad', subject: 's', ...fields });
      expect(res.status, JSON.stringify(fields)).toBe(400);
      expect(res.body.error).toBe('INVALID_TEMPLATE');
      expect(res.body.message).toMatch(message);
    }
    const id = await saved({ html: '<p>ok</p>' });
    const update = await call(`${t.url}/api/v1/templates/${id}`, { method: 'PUT', key: ws.key, body: { html: '{{> nope}}' } });
    expect(update.status).toBe(400);
    expect(update.body.error).toBe('INVALID_TEMPLATE');
  });

  it('answers 400 INVALID_TEMPLATE, not 500, for a stored template saved before the checks that fails when rendered', async () => {
    const old = await templateStore.createTemplate(
      t.app.services.database.db,
      { id: uuidv7(), workspaceId: ws.id, name: 'Old', description: null, category: null },
      { subject: 's', html: '<p>{{> nope}}</p>', textBody: '{{log "old"}}', sourceFormat: 'html', source: null, requiredVariables: [] },
    );
    for (const res of [await preview(old.id, {}), await send({ to: 'a@example.test', template_id: old.id })]) {
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('INVALID_TEMPLATE');
      expect(res.body.message).toBe("The template's html cannot be rendered: The partial nope could not be found");
    }
  });

  it('refuses a source field over TEMPLATE_MAX_BYTES before compiling it', async () => {
    const res = await save({ name: 'Huge', subject: 's', html: `<p>${'x'.repeat(300 * 1024)}</p>` });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ error: 'TEMPLATE_LIMIT_EXCEEDED', limit: 'TEMPLATE_MAX_BYTES' });
    expect(res.body.message).toBe("Field 'html' is larger than 262144 bytes (TEMPLATE_MAX_BYTES)");
  });

  it('refuses template data over TEMPLATE_DATA_MAX_BYTES before copying it anywhere', async () => {
    const id = await saved({ html: '<p>{{x}}</p>' });
    const many = { rows: Array.from({ length: 40_000 }, () => ({})) };
    for (const res of [await preview(id, many), await send({ to: 'a@example.test', template_id: id, params: many })]) {
      expect(res.status).toBe(422);
      expect(res.body).toMatchObject({ error: 'TEMPLATE_LIMIT_EXCEEDED', limit: 'TEMPLATE_DATA_MAX_BYTES' });
      expect(res.body.message).toBe("The template data ('params') is larger than 524288 bytes (TEMPLATE_DATA_MAX_BYTES)");
    }
  });

  it('stops the adversarial MJML at TEMPLATE_COMPILE_TIMEOUT_MS (or its thread\'s memory limit) while /health answers within 1 s', async () => {
    const { result, slowestHealthMs, probes } = await healthWhile(t.url, save({ name: 'Adversarial', subject: 's', mjml: ADVERSARIAL_MJML }));
    expect(result.status).toBe(422);
    expect(result.body.error).toBe('TEMPLATE_LIMIT_EXCEEDED');
    // whichever limit the compilation reaches first: on a busy machine its memory can outgrow the thread's
    // 256 MB before 5 s of its CPU time have passed
    const expected: Record<string, string> = {
      TEMPLATE_COMPILE_TIMEOUT_MS: 'Compiling the MJML took longer than 5000 ms (TEMPLATE_COMPILE_TIMEOUT_MS) and was stopped',
      CONTENT_THREAD_MEMORY_MB: 'Compiling the MJML needed more than 256 MB of memory (CONTENT_THREAD_MEMORY_MB) and was stopped',
    };
    expect(Object.keys(expected)).toContain(result.body.limit);
    expect(result.body.message).toBe(expected[result.body.limit as string]);
    expect(probes).toBeGreaterThan(10);
    expect(slowestHealthMs).toBeLessThan(1000);
  });

  it('compiles valid MJML to the same HTML as before', async () => {
    const res = await save({ name: 'MJML', subject: 's', mjml: VALID_MJML });
    expect(res.status).toBe(200);
    const before = await mjml2html(VALID_MJML, { validationLevel: 'soft', keepComments: false });
    expect((res.body.data as { html: string }).html).toBe(before.html);
  });

  it('refuses broken MJML with its validation errors and their lines, instead of dropping the content', async () => {
    const broken = '<mjml>\n<mj-body>\n  <mj-section>\n    <mj-colum>\n      <mj-text>Hello</mj-text>\n    </mj-colum>\n  </mj-section>\n</mj-body>\n</mjml>';
    const res = await save({ name: 'Broken', subject: 's', mjml: broken });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('INVALID_TEMPLATE');
    expect(res.body.message).toBe("Field 'mjml' is not valid MJML: line 4: Element mj-colum doesn't exist or is not registered");
    expect(res.body.mjml_errors).toEqual([{ line: 4, message: "Element mj-colum doesn't exist or is not registered" }]);
    expect(res.text).not.toContain(process.cwd());
  });

  it('never reads a server file named by mj-include', async () => {
    const secret = path.join(tmp, 'secret.mjml');
    writeFileSync(secret, '<mj-text>SERVER_FILE_CONTENT</mj-text>');
    const res = await save({ name: 'Include', subject: 's', mjml: `<mjml><mj-body><mj-section><mj-column><mj-include path="${secret}" /><mj-text>x</mj-text></mj-column></mj-section></mj-body></mjml>` });
    expect(res.text).not.toContain('SERVER_FILE_CONTENT');
  });

  it('delivers a bulk email whose HTML is "<a" × 60,000 with a text part, while /health answers within 1 s', async () => {
    const accepted = await send({ to: 'a@example.test', subject: 'big', html: '<a'.repeat(60_000), track_opens: false }, 'bulk');
    expect(accepted.status).toBe(200);
    const { result: raw, slowestHealthMs } = await healthWhile(t.url, captured(accepted.body.id as string, 60_000));
    const text = decodedPart(raw, 'text/plain');
    expect(text).not.toBeNull();
    expect(text!.length).toBeGreaterThan(0);
    expect(decodedPart(raw, 'text/html')).toBe('<a'.repeat(60_000));
    expect(slowestHealthMs).toBeLessThan(1000);
  });
});
