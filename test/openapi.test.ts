import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/platform/http/errors.js';
import { listRoutes } from '../src/platform/http/server.js';
import { call, startTestApp, waitFor, type ApiResponse, type TestApp } from './support/app.js';
import { startDnsServer, type TestDnsServer } from './support/dns-server.js';
import { TEST_SECRET_KEY } from './support/domains.js';
import { uuidv7 } from '../src/platform/ids.js';

type Json = Record<string, unknown>;
interface Media {
  schema?: Json;
  example?: unknown;
  examples?: Record<string, { value: unknown }>;
}
interface Parameter extends Media {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
}
interface Operation {
  summary?: string;
  description?: string;
  deprecated?: boolean;
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { description: string; content?: Record<string, Media> }>;
  'x-keplars-scope'?: string;
  'x-keplars-extension'?: boolean;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json>; securitySchemes: Record<string, Json> };
  servers: { url: string }[];
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
/** A media object's example, or (OpenAPI 3.1, where a schema is JSON Schema) its schema's first `examples` entry. */
const firstExample = (m: Media | undefined): unknown => {
  if (m?.example !== undefined) return m.example;
  if (m?.examples) return Object.values(m.examples)[0]?.value;
  // zod writes `examples` into a schema, but drops them from one that transforms its input: those carry OpenAPI's `example`
  return (m?.schema?.examples as unknown[] | undefined)?.[0] ?? m?.schema?.example;
};
/** the docs page, its assets and its copies of the document are not API operations */
const isDocsAsset = (url: string) => url === '/docs' || url.startsWith('/docs/');
const toOpenApiPath = (url: string) => url.replace(/:([^/]+)/g, '{$1}');

describe('the OpenAPI document and the API reference', () => {
  let t: TestApp;
  let dns: TestDnsServer;
  let doc: Document;
  let ws: { id: string; adminKey: string; key: string };
  /** what the examples' ids and times are replaced with: things this test created */
  const fixture = { email: '', captured: '', scheduled: '', template: '', disposableTemplate: '', domain: '', verifiedDomain: '', doomed: [] as string[], view: '', unsubscribe: '', resubscribe: '', audience: '', doomedAudience: '', contact: '', doomedContact: '', doomedAddress: 'doomed-rest@example.org', subscribe: '', confirm: '', contactImport: '', open: '', click: '', webhook: '', doomedWebhook: '', delivery: '', automation: '', managedAutomation: '', archivableAutomation: '', doomedAutomation: '' };

  beforeAll(async () => {
    dns = await startDnsServer();
    // the webhook examples' host is this machine, where nothing listens on 443: the test event answers at once
    dns.set('hooks.example.com', 'A', ['127.0.0.1']);
    t = await startTestApp({ backend: 'pglite', env: { DNS_SERVERS: dns.server, SECRET_KEY: TEST_SECRET_KEY, WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' } });
    ws = await t.workspace();
    const res = await call(`${t.url}/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    doc = res.body as unknown as Document;

    const s = t.app.services;
    const sent = await call(`${t.url}/api/v1/send-email/instant`, { key: ws.key, body: { to: 'ada@example.org', subject: 'fixture', text: 'hi' } });
    expect(sent.status, sent.text).toBe(200);
    fixture.email = sent.body.id as string;
    fixture.captured = await waitFor(async () => {
      const list = await call(`${t.url}/api/v1/captured?email_id=${fixture.email}`, { key: ws.key });
      return (list.body.data as { messages: { id: string }[] }).messages[0]?.id ?? null;
    }, { what: 'the captured copy' });
    const later = new Date(Date.now() + 3600_000).toISOString();
    const scheduled = await call(`${t.url}/api/v1/send-email/schedule`, { key: ws.key, body: { to: 'ada@example.org', subject: 'later', text: 'hi', scheduled_at: later } });
    fixture.scheduled = scheduled.body.id as string;
    const template = async (name: string) => (await s.templates.save(ws.id, { name, subject: 'Hi {{firstName}}', html: '<p>{{firstName}}</p>', requiredVariables: ['firstName'] })).id;
    fixture.template = await template('fixture');
    fixture.disposableTemplate = await template('to delete');
    const domain = async (name: string) => (await s.domains.add(ws.id, { domain: name })).id;
    fixture.domain = await domain('checked.example.com');
    fixture.verifiedDomain = await domain('mail.example.com');
    await s.database.db.updateTable('domains').set({ verification_status: 'verified' }).where('id', '=', fixture.verifiedDomain).execute();
    fixture.doomed = [await domain('doomed-1.example.com'), await domain('doomed-2.example.com')];
    // a tracked email: its pixel's token and its one link's
    const tracked = await call(`${t.url}/api/v1/send-email/instant`, { key: ws.key, body: { to: 'ada@example.org', subject: 'tracked', html: '<a href="https://example.org/pricing">pricing</a>' } });
    const trackedHtml = (await s.database.db.selectFrom('messages').select('html').where('id', '=', tracked.body.id as string).executeTakeFirstOrThrow()).html!;
    fixture.open = /\/t\/o\/([^"]+)/.exec(trackedHtml)![1]!;
    fixture.click = /\/t\/c\/([^"]+)/.exec(trackedHtml)![1]!;
    fixture.view = s.tokens.sign('view', fixture.email);
    fixture.unsubscribe = s.tokens.sign('unsubscribe', fixture.email);
    fixture.resubscribe = s.tokens.sign('resubscribe', fixture.email);
    fixture.audience = (await s.audiences.create(ws.id, { name: 'fixture' })).id;
    fixture.doomedAudience = (await s.audiences.create(ws.id, { name: 'to delete' })).id;
    fixture.contact = (await s.contacts.add(ws.id, 'fixture@example.org', { profile: {}, audienceId: fixture.audience })).contact.id;
    fixture.doomedContact = (await s.contacts.add(ws.id, 'doomed@example.org', { profile: {} })).contact.id;
    await s.contacts.add(ws.id, fixture.doomedAddress, { profile: {} });
    // the address the reactivation example takes off the suppression list
    await s.suppressions.add({ workspaceId: ws.id, email: fixture.doomedAddress, scope: 'all', reason: 'manual' });
    // a double opt-in audience: the form's example subscribes, and a pending member's link confirms
    const audience = await s.audiences.create(ws.id, { name: 'Fixture list', doubleOptIn: true });
    fixture.subscribe = audience.subscribe_url.split('/s/')[1]!;
    const pending = await s.contacts.add(ws.id, 'pending@example.org', { profile: {} });
    await s.contacts.setSubscription(ws.id, pending.contact.id, audience.id, 'pending', 'fixture');
    fixture.confirm = s.subscribe.confirmToken(ws.id, audience.id, pending.contact.id);
    const imported = await call(`${t.url}/api/v1/public/contacts/import`, { key: ws.adminKey, rawBody: 'email\nada@example.org\n', headers: { 'content-type': 'text/csv' } });
    expect(imported.status, imported.text).toBe(202);
    fixture.contactImport = (imported.body.data as { id: string }).id;
    const webhook = async () => (await s.webhooks.create(ws.id, { url: 'https://hooks.example.com/keplars', events: ['email.bounced'] })).id;
    fixture.webhook = await webhook();
    fixture.doomedWebhook = await webhook();
    fixture.delivery = uuidv7();
    await s.database.db
      .insertInto('webhook_deliveries')
      .values({ id: fixture.delivery, endpoint_id: fixture.webhook, workspace_id: ws.id, event: 'email.bounced', payload: '{}', status: 'failed' })
      .execute();
    const automation = async (name: string) =>
      (await s.automations.create(ws.id, { name, trigger: { type: 'contact_event', config: { event_name: 'signed_up' } }, steps: [{ id: 'tag', type: 'action', action: { kind: 'add_tag', tag: 'x' } }] })).id;
    fixture.automation = await automation('fixture');
    await s.automations.transition(ws.id, fixture.automation, 'active');
    fixture.managedAutomation = await automation('managed');
    fixture.archivableAutomation = await automation('to archive');
    fixture.doomedAutomation = await automation('to delete');
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await dns?.close();
  });

  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => METHODS.includes(method))
        .map(([method, op]) => ({ path, method: method.toUpperCase(), op })),
    );

  it('holds every registered route but the reference page and its assets', () => {
    const routes = listRoutes(t.app.http!).filter((r) => !isDocsAsset(r.url));
    expect(routes.length).toBeGreaterThan(40);
    const documented = new Set(operations().map((o) => `${o.method} ${o.path}`));
    for (const r of routes) expect(documented, `${r.method} ${r.url}`).toContain(`${r.method} ${toOpenApiPath(r.url)}`);
    expect(documented.size).toBe(routes.length);
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc as unknown as Json);
    expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.servers[0]?.url).toBe(t.url);
  });

  it('gives each operation a summary, a description, examples and the key and scope its route declares', () => {
    const auth = new Map(listRoutes(t.app.http!).map((r) => [`${r.method} ${toOpenApiPath(r.url)}`, (r.config as { auth?: { key: string; scope?: string } } | undefined)?.auth]));
    for (const { path, method, op } of operations()) {
      const name = `${method} ${path}`;
      expect(op.summary, name).toBeTruthy();
      expect(op.description, name).toBeTruthy();
      // a request example: one for every parameter and for the body (an operation without input is requested as it is)
      for (const p of op.parameters ?? []) if (p.required) expect(firstExample(p), `${name}: parameter ${p.name}`).toBeDefined();
      if (op.requestBody) expect(Object.values(op.requestBody.content).map(firstExample).find((e) => e !== undefined), `${name}: body`).toBeDefined();
      // a redirect is what a tracked link answers when it works
      const success = Object.entries(op.responses).filter(([status]) => status.startsWith('2') || status === '302');
      expect(success.length, name).toBeGreaterThan(0);
      expect(success.some(([, r]) => Object.values(r.content ?? {}).some((m) => firstExample(m) !== undefined)), `${name}: a response example`).toBe(true);

      const rule = auth.get(name);
      const schemes = (op.security ?? []).flatMap((s) => Object.keys(s)).sort();
      if (!rule) expect(schemes, name).toEqual([]);
      else if (rule.key === 'admin') expect(schemes, name).toEqual(['adminKey']);
      else if (rule.key === 'regular') expect(schemes, name).toEqual(['sendingKey']);
      else expect(schemes, name).toEqual(['adminKey', 'sendingKey']);
      expect(op['x-keplars-scope'], name).toBe(rule?.scope);
      if (rule?.scope) expect(op.description, name).toContain(`\`${rule.scope}\``);
    }
    // the send aliases are marked; our own routes are extensions, the spec's are not
    const marks = (m: string, p: string) => ({ deprecated: doc.paths[p]?.[m]?.deprecated === true, extension: doc.paths[p]?.[m]?.['x-keplars-extension'] === true });
    expect(marks('post', '/api/v1/public/send-email/instant')).toEqual({ deprecated: true, extension: false });
    expect(marks('post', '/send-email/queue')).toEqual({ deprecated: true, extension: false });
    expect(marks('post', '/api/v1/send-email/instant')).toEqual({ deprecated: false, extension: false });
    expect(marks('get', '/api/v1/emails')).toEqual({ deprecated: false, extension: true });
    expect(marks('post', '/api/v1/public/domains/{id}/rotate-dkim')).toEqual({ deprecated: false, extension: true });
    expect(marks('get', '/health').extension).toBe(true);
    expect(marks('get', '/api/v1/captured/{id}/raw').extension).toBe(true);
    expect(marks('get', '/api/v1/public/emails/get-email').extension).toBe(false);
    expect(marks('get', '/api/v1/public/contacts/get-contacts')).toEqual({ deprecated: false, extension: false });
    expect(marks('post', '/api/v1/public/audiences/add-audience')).toEqual({ deprecated: false, extension: false });
    expect(marks('put', '/contacts/{email}')).toEqual({ deprecated: true, extension: false });
  });

  it('declares the error envelope with every error code, and the security schemes of both key types', () => {
    const envelope = doc.components.schemas.ErrorEnvelope as { properties: { code: { enum: string[] } }; description: string };
    expect(envelope.properties.code.enum.sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const code of Object.keys(ERROR_CODES)) expect(envelope.description).toContain(`\`${code}\``);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['adminKey', 'sendingKey']);
    for (const scheme of Object.values(doc.components.securitySchemes)) expect(scheme).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  /** The id an example's `{id}` (or id-like field) stands for on this path. */
  function idFor(path: string, method: string): string {
    if (path.startsWith('/api/v1/emails') || path.startsWith('/api/v1/public/emails')) return fixture.email;
    if (path.startsWith('/api/v1/captured')) return fixture.captured;
    if (path.startsWith('/api/v1/send-email/schedule')) return fixture.scheduled;
    if (path.startsWith('/api/v1/templates')) return method === 'DELETE' ? fixture.disposableTemplate : fixture.template;
    if (path.includes('/delete-domain')) return fixture.doomed.shift()!;
    if (path.includes('/rotate-dkim') || path.includes('/api-keys/')) return fixture.verifiedDomain;
    if (path.startsWith('/api/v1/public/domains')) return fixture.domain;
    if (path.startsWith('/api/v1/public/contacts/imports/')) return fixture.contactImport;
    if (path.startsWith('/api/v1/public/contacts')) return method === 'DELETE' ? fixture.doomedContact : fixture.contact;
    if (path.startsWith('/api/v1/public/audiences')) return method === 'DELETE' ? fixture.doomedAudience : fixture.audience;
    if (path.startsWith('/api/v1/webhooks')) return method === 'DELETE' ? fixture.doomedWebhook : fixture.webhook;
    if (path.startsWith('/api/v1/public/automations')) return fixture.automation;
    if (path.startsWith('/api/v1/automations')) return method === 'DELETE' ? fixture.doomedAutomation : path.endsWith('/archive') ? fixture.archivableAutomation : fixture.managedAutomation;
    throw new Error(`no fixture for an id on ${path}`);
  }
  const ID_FIELDS = new Set(['id', 'email_id', 'emailId', 'domain_id', 'domainId', 'custom_domain_id']);
  /** fields that name an audience wherever they appear (a contact's request names both) */
  const AUDIENCE_FIELDS = new Set(['audience_id', 'audienceId']);

  /** The example request of an operation, with this test's fixtures in place of the example's ids and times. */
  function exampleRequest(path: string, method: string, op: Operation) {
    let chosen: string | undefined;
    const id = () => (chosen ??= idFor(path, method));
    let url = path;
    const query = new URLSearchParams();
    const headers: Record<string, string> = {};
    for (const p of op.parameters ?? []) {
      let value = firstExample(p);
      if (value === undefined) continue;
      if (ID_FIELDS.has(p.name)) value = id();
      if (AUDIENCE_FIELDS.has(p.name)) value = fixture.audience;
      if (p.name === 'delivery_id') value = fixture.delivery;
      // the Elixir SDK's /contacts/{email}
      if (p.name === 'email' && p.in === 'path') value = method === 'DELETE' ? fixture.doomedAddress : 'fixture@example.org';
      if (p.name === 'token') {
        value = path.startsWith('/t/o/') ? fixture.open : path.startsWith('/t/c/') ? fixture.click : path.startsWith('/v/') ? fixture.view : path.startsWith('/u/resubscribe/') ? fixture.resubscribe : path.startsWith('/u/') ? fixture.unsubscribe : path.startsWith('/s/confirm/') ? fixture.confirm : fixture.subscribe;
      }
      if (p.in === 'path') url = url.replace(`{${p.name}}`, encodeURIComponent(String(value)));
      else if (p.in === 'query') query.set(p.name, String(value));
      else if (p.name !== 'idempotency-key') headers[p.name] = String(value);
    }
    // a CSV body (the contact import) is sent as it is, with its type
    const csv = firstExample(op.requestBody?.content['text/csv']) as string | undefined;
    if (csv !== undefined && !op.requestBody?.content['application/json']) headers['content-type'] = 'text/csv';
    let body = firstExample(op.requestBody?.content['application/json']) as Json | undefined;
    if (body) {
      body = { ...body };
      for (const field of Object.keys(body)) if (ID_FIELDS.has(field)) body[field] = id();
      for (const field of Object.keys(body)) if (AUDIENCE_FIELDS.has(field)) body[field] = fixture.audience;
      if ('scheduled_at' in body) body.scheduled_at = new Date(Date.now() + 86_400_000).toISOString().slice(0, 19);
      if (path.endsWith('/add-domain')) body.domain = 'added.example.com';
      // the automations API names contacts by address: the fixture contact's
      if (path.includes('/automations/') && 'email' in body) body.email = 'fixture@example.org';
    }
    // a form route's example goes as a form (the hosted subscribe page)
    const form = firstExample(op.requestBody?.content['application/x-www-form-urlencoded']) as Record<string, string> | undefined;
    let rawBody: string | undefined;
    if (form) {
      rawBody = new URLSearchParams(form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const key = op.security?.some((s) => 'sendingKey' in s) ? ws.key : op.security?.some((s) => 'adminKey' in s) ? ws.adminKey : undefined;
    if (csv !== undefined && headers['content-type'] === 'text/csv') rawBody = csv;
    return { url: `${t.url}${url}${query.size > 0 ? `?${query}` : ''}`, method, headers, body, rawBody, key };
  }

  it('answers every example request with the documented status and a body the documented schema accepts', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const check = (schema: Json, value: unknown) => {
      const validate = ajv.compile({ ...schema, components: doc.components });
      return validate(value) ? [] : (validate.errors ?? []);
    };
    // changes last: the cancel and the deletes
    const ordered = operations().sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
    let tried = 0;
    for (const { path, method, op } of ordered) {
      const name = `${method} ${path}`;
      const [status, documented] = Object.entries(op.responses).find(([s]) => s.startsWith('2') || s === '302')!;
      // the examples themselves follow their schemas
      for (const [type, media] of Object.entries(documented.content ?? {})) {
        if (type === 'application/json' && media.schema && firstExample(media) !== undefined) expect(check(media.schema, firstExample(media)), `${name}: response example`).toEqual([]);
      }
      const r = exampleRequest(path, method, op);
      // a redirect is answered as it is, not followed (a tracked link leads off this server)
      const res: ApiResponse =
        status === '302'
          ? await fetch(r.url, { method: r.method, redirect: 'manual' }).then(async (x) => ({ status: x.status, headers: x.headers, body: {}, text: await x.text() }))
          : await call(r.url, { method: r.method, headers: r.headers, ...(r.key ? { key: r.key } : {}), ...(r.body !== undefined ? { body: r.body } : {}), ...(r.rawBody !== undefined ? { rawBody: r.rawBody } : {}) });
      tried++;
      expect(String(res.status), `${name}: ${res.text.slice(0, 300)}`).toBe(status);
      const type = (res.headers.get('content-type') ?? '').split(';')[0]!;
      const media = documented.content?.[type];
      expect(media, `${name}: answered ${type}, documented ${Object.keys(documented.content ?? {}).join(', ')}`).toBeDefined();
      if (type === 'application/json') expect(check(media!.schema!, res.body), `${name}: ${res.text.slice(0, 300)}`).toEqual([]);
    }
    expect(tried).toBe(operations().length);
  }, 120_000);

  it('serves the reference page and every script and style it loads from this server, with nothing from elsewhere', async () => {
    const page = await fetch(`${t.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/https?:|validator\.swagger\.io/);
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(4);
    for (const asset of assets) {
      const url = new URL(asset, `${t.url}/docs`);
      expect(url.origin, asset).toBe(t.url);
      const res = await fetch(url);
      expect(res.status, asset).toBe(200);
      const text = await res.text();
      // no asset pulls another from elsewhere: no remote fonts, imports or scripts
      if (/\.(css|js)$/.test(url.pathname)) expect(text, asset).not.toMatch(/@import\s+url\(["']?https?:|url\(["']?https?:\/\/|fonts\.googleapis|cdn\.jsdelivr|unpkg\.com/);
    }
    const initializer = await (await fetch(`${t.url}/docs/static/swagger-initializer.js`)).text();
    expect(initializer).toContain('validatorUrl: null');
    expect((await call(`${t.url}/docs/json`)).body.openapi).toBe('3.1.0');
  });

  it('answers a schema failure in the envelope with the precise message', async () => {
    const bad = await call(`${t.url}/api/v1/emails?limit=ten`, { key: ws.key });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ success: false, error: 'VALIDATION_ERROR', code: 'VALIDATION_ERROR', message: "Query parameter 'limit' must be a positive integer" });
    const missing = await call(`${t.url}/api/v1/public/emails/get-email`, { key: ws.key });
    expect(missing.body.message).toBe("Query parameter 'id' is required");
    const wrongType = await call(`${t.url}/api/v1/public/domains/add-domain`, { key: ws.adminKey, body: { domain: 42 } });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body).toMatchObject({ error: 'VALIDATION_ERROR', message: "Field 'domain' must be a string" });
    const tooLong = await call(`${t.url}/api/v1/public/domains/api-keys/create`, { key: ws.adminKey, body: { domain_id: fixture.verifiedDomain, name: 'x'.repeat(201) } });
    expect(tooLong.body.message).toBe("Field 'name' must be at most 200 characters");
    // an ApiError raised while parsing keeps its own message
    const cursor = await call(`${t.url}/api/v1/captured?cursor=nonsense`, { key: ws.key });
    expect(cursor.body).toMatchObject({ error: 'VALIDATION_ERROR', message: "Query parameter 'cursor' is not a cursor this API returned" });
    const render = await call(`${t.url}/api/v1/templates/${fixture.template}/render`, { key: ws.key, body: { params: [] } });
    expect(render.body).toMatchObject({ error: 'VALIDATION_ERROR', message: "Field 'params' must be an object" });
  });
});
