import http from 'node:http';
import fc from 'fast-check';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteAuth } from '../src/modules/keys/auth-hook.js';
import { ADMIN_SCOPES } from '../src/modules/keys/key-format.js';
import { ERROR_CODES, type ErrorCode } from '../src/platform/http/errors.js';
import { listRoutes, type RouteEntry } from '../src/platform/http/server.js';
import { uuidv7 } from '../src/platform/ids.js';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { startDnsServer, type TestDnsServer } from './support/dns-server.js';
import { TEST_SECRET_KEY } from './support/domains.js';
import {
  CONTENT_TYPES,
  JsonObject,
  deepValue,
  emptyBody,
  headerValue,
  hostileSegment,
  hostileValue,
  invalidJsonBody,
  nearValid,
  obj,
  queryString,
  toJsonText,
  type FuzzValue,
} from './support/fuzz-inputs.js';

/**
 * Generated requests (hostile bodies, headers, query strings and path parameters) to every route in the route
 * list, so a new route is fuzzed without being named here. Every answer must be below 500, and either the JSON
 * envelope with a catalogue code, a `success: true` JSON answer, or what the route is declared below to answer.
 * Runs FUZZ_RUNS requests (default 2000) from seed FUZZ_SEED (fixed by default); a failure prints the seed and
 * path that replay it (FUZZ_SEED=… FUZZ_PATH=…). README, Development.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_201);
const REPLAY_PATH = process.env.FUZZ_PATH;

/**
 * Routes whose answers are not all JSON, and what else they may answer. Every other route answers JSON only:
 * an unlisted route that answers anything else fails the test until it is listed here. `document`: its JSON
 * is a document of its own, not the envelope.
 */
const NON_ENVELOPE_ROUTES: { route: RegExp; why: string; contentType: RegExp; document?: true; redirects?: true }[] = [
  { route: /^(GET|POST) \/([vu]|u\/resubscribe)\/:token$/, why: 'hosted view, unsubscribe and resubscribe pages (a text email is shown as text)', contentType: /^text\/(html|plain); charset=utf-8$/ },
  { route: /^(GET|POST) \/s\/(confirm\/)?:token$/, why: 'hosted subscribe form and its confirmation page', contentType: /^text\/html; charset=utf-8$/ },
  { route: /^GET \/t\/[oc]\/:token$/, why: 'the tracking pixel (a GIF) and tracked links (a redirect, or the 404 page)', contentType: /^(image\/gif|text\/html; charset=utf-8)$/, redirects: true },
  { route: /^GET \/api\/v1\/captured\/:id\/raw$/, why: 'the captured message as sent', contentType: /^message\/rfc822$/ },
  { route: /^GET \/docs(\/|$)/, why: 'the API reference page, its assets and its copy of the document', contentType: /^(text\/(html|css|javascript|plain|yaml)|application\/(javascript|json|yaml|x-yaml)|image\/|font\/)/, document: true, redirects: true },
  { route: /^GET \/api\/v1\/openapi\.json$/, why: 'the OpenAPI document', contentType: /^application\/json/, document: true },
  { route: /^GET \/metrics$/, why: 'Prometheus metrics', contentType: /^(text\/plain|application\/openmetrics-text)/ },
];

/** Statuses a code is answered with besides its catalogue one (spec: DOMAIN_NOT_VERIFIED is 400 on send, 403 elsewhere). */
const OTHER_STATUSES: Partial<Record<ErrorCode, number[]>> = { DOMAIN_NOT_VERIFIED: [400] };

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | null;
  /** the route the path was made from (the route that answers may differ: dots, encoded slashes) */
  from: string;
}

/** A failing request as fast-check prints it: long values cut, bytes shown as text. */
function describeRequest(r: FuzzRequest): string {
  const cut = (s: string) => (s.length > 300 ? `${s.slice(0, 300)}…(${s.length} chars)` : s);
  const headers = Object.entries(r.headers).map(([k, v]) => `${k}: ${cut(JSON.stringify(v))}`);
  return `${r.method} ${cut(r.path)} [${headers.join('; ')}] body ${r.body ? cut(JSON.stringify(r.body.toString('latin1'))) : 'none'} (from ${r.from})`;
}

interface Answer {
  status: number;
  contentType: string;
  location: string;
  body: Buffer;
}

describe.each(BACKENDS)('the fuzzed boundary on %s', (backend) => {
  let t: TestApp;
  let dns: TestDnsServer;
  let ws: { id: string; adminKey: string; key: string };
  let keys: { admin: string; regular: string; domain: string };
  /** real ids and tokens, so a share of the requests reaches an existing resource */
  let real: { id: string[]; token: string[]; domainId: string; templateId: string; audienceId: string };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

  beforeAll(async () => {
    dns = await startDnsServer({});
    t = await startTestApp({ backend, env: { DNS_SERVERS: dns.server, SECRET_KEY: TEST_SECRET_KEY, UNAUTHENTICATED_REQUESTS_PER_SECOND: '100000' } });
    ws = await t.workspace();
    const services = t.app.services;
    const addVerifiedDomain = async (name: string) => {
      const id = uuidv7();
      await services.database.db
        .insertInto('domains')
        .values({ id, workspace_id: ws.id, name, region: 'us-east-1', mail_from_domain: `bounces.${name}`, verification_status: 'verified' })
        .execute();
      return id;
    };
    // the domain-tied key's domain is kept out of the generated paths: deleting it would revoke the key
    keys = {
      admin: (await services.keys.createAdminKey({ workspaceId: ws.id, scopes: [...ADMIN_SCOPES] })).secretKey,
      regular: ws.key,
      domain: (await services.keys.createRegularKey({ workspaceId: ws.id, domainId: await addVerifiedDomain('alpha.test') })).secretKey,
    };
    const domainId = await addVerifiedDomain('beta.test');
    const saveTemplate = async () => {
      const template = await call(`${t.url}/api/v1/templates/save`, { key: keys.admin, body: { name: 'Fuzz', subject: 'Hi {{name}}', html: '<p>Hi {{name}}</p>' } });
      expect(template.status, template.text).toBe(200);
      return (template.body.data as { id: string }).id;
    };
    // the template sends use is kept out of the generated paths: deleting it would turn every such send into a 400
    const templateId = await saveTemplate();
    const sent = await call(`${t.url}/api/v1/send-email/instant`, { key: keys.regular, body: { to: 'a@example.test', subject: 's', html: '<p>b</p>' } });
    expect(sent.status, sent.text).toBe(200);
    const scheduled = await call(`${t.url}/api/v1/send-email/schedule`, { key: keys.regular, body: { to: 'a@example.test', subject: 's', text: 'b', scheduled_at: new Date(Date.now() + 86_400_000).toISOString() } });
    expect(scheduled.status, scheduled.text).toBe(200);
    const emailId = sent.body.id as string;
    const capturedId = await waitFor(async () => {
      const list = await call(`${t.url}/api/v1/captured?email_id=${emailId}`, { key: keys.regular });
      return (list.body.data as { messages: { id: string }[] }).messages[0]?.id ?? null;
    }, { what: 'the captured copy' });
    const audienceId = (await services.audiences.create(ws.id, { name: 'Fuzz' })).id;
    const contactId = (await services.contacts.add(ws.id, 'fuzz@example.test', { profile: {}, audienceId })).contact.id;
    real = {
      id: [emailId, scheduled.body.id as string, capturedId, await saveTemplate(), domainId, audienceId, contactId],
      token: [services.tokens.sign('view', emailId), services.tokens.sign('unsubscribe', emailId)],
      domainId,
      templateId,
      audienceId,
    };
  });
  afterAll(async () => {
    agent.destroy();
    await t?.close();
    await dns?.close();
  });

  const routes = (): RouteEntry[] => listRoutes(t.app.http!);

  /** Valid bodies for each kind of route, the starting points of near-valid ones; a route not matched gets them all. */
  const validBodies = (route: RouteEntry): JsonObject[] => {
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const kinds: { route: RegExp; bodies: JsonObject[] }[] = [
      {
        route: /send-email\/(?!schedule)/,
        bodies: [
          obj({ to: 'a@example.test', subject: 's', body: 'b' }),
          obj({
            from: 'App <app@alpha.test>',
            to: ['a@example.test', obj({ email: 'b@example.test', name: 'B' })],
            cc: 'c@example.test',
            reply_to: 'r@example.test',
            subject: 'Hi',
            html: '<p>hi</p>',
            text: 'hi',
            headers: obj({ 'X-Tag': '1' }),
            metadata: obj({ order: 'o-1' }),
            tags: ['t'],
            attachments: [obj({ filename: 'a.txt', content: 'aGk=', content_type: 'text/plain' })],
          }),
          obj({ to: obj({ email: 'a@example.test' }), template_id: real.templateId, params: obj({ name: 'x' }) }),
        ],
      },
      { route: /send-email\/schedule$/, bodies: [obj({ to: 'a@example.test', subject: 's', text: 'b', scheduled_at: later, timezone: 'Europe/Paris' })] },
      { route: /\/render$/, bodies: [obj({ params: obj({ name: 'x' }), version: 1 })] },
      {
        route: /templates/,
        bodies: [obj({ name: 'T', subject: 'Hi {{name}}', html: '<p>{{name}}</p>', text: 'Hi', required_variables: ['name'] }), obj({ blocks: [obj({ type: 'text', text: 'hi' })], name: 'B' })],
      },
      { route: /add-domain$/, bodies: [obj({ domain: 'fuzz.example.test', region: 'us-east-1' })] },
      {
        route: /(add-contact|^\/contacts)$/,
        bodies: [obj({ email: 'fz+1@example.test', name: 'F Z', audience_id: real.audienceId, tags: ['t'], custom_fields: obj({ a: '1' }), companyName: 'C' })],
      },
      { route: /(update-contact|\/contacts\/:email)$/, bodies: [obj({ first_name: 'F', audience_id: real.audienceId, subscription: 'unsubscribed', status: 'blocked', customAttributes: obj({ b: null }) })] },
      { route: /add-audience$/, bodies: [obj({ name: 'Fz', description: 'd', double_opt_in: true })] },
      { route: /api-keys/, bodies: [obj({ custom_domain_id: real.domainId, name: 'k', expires_at: later })] },
    ];
    const matching = kinds.filter((k) => k.route.test(route.url)).slice(0, 1);
    return (matching.length > 0 ? matching : kinds).flatMap((k) => k.bodies);
  };

  const bodyText = (route: RouteEntry): fc.Arbitrary<Buffer> => {
    const valid = fc.constantFrom(...validBodies(route));
    const json = (v: fc.Arbitrary<FuzzValue>) => v.map((x) => Buffer.from(toJsonText(x)));
    return fc.oneof(
      { arbitrary: json(valid.chain(nearValid)), weight: 8 },
      { arbitrary: json(valid), weight: 3 },
      { arbitrary: json(fc.array(fc.tuple(fc.string(), hostileValue), { maxLength: 6 }).map((e) => new JsonObject(e))), weight: 2 },
      { arbitrary: json(hostileValue), weight: 1 },
      { arbitrary: json(deepValue), weight: 1 },
      { arbitrary: invalidJsonBody(valid.map(toJsonText)), weight: 2 },
      { arbitrary: emptyBody, weight: 1 },
    );
  };

  /** Mostly a key the route takes, so the input reaches validation and the services; now and then another or none. */
  const authorizationFor = (route: RouteEntry): string[] => {
    const rule = (route.config as { auth?: RouteAuth } | undefined)?.auth;
    return rule?.key === 'admin' ? [keys.admin] : rule?.key === 'regular' ? [keys.regular, keys.domain] : [keys.admin, keys.regular, keys.domain];
  };
  const authorization = (route: RouteEntry): fc.Arbitrary<string | null> => {
    const fitting = authorizationFor(route);
    const key = fc.constantFrom(keys.admin, keys.regular, keys.domain);
    return fc.oneof(
      { arbitrary: fc.constantFrom(...fitting).map((k) => `Bearer ${k}`), weight: 24 },
      { arbitrary: key.map((k) => `Bearer ${k}`), weight: 4 },
      { arbitrary: fc.constant(null), weight: 1 },
      {
        arbitrary: fc.tuple(key, fc.constantFrom('bearer {k}', 'BEARER  {k}  ', 'Bearer', 'Bearer ', 'Bearer {k} extra', 'Basic dXNlcjpwYXNz', 'Token {k}', '{k}', 'Bearer {k}x', 'Bearer {k-1}', 'Bearer kms_x.live_y', 'Bearer kms_' + 'a'.repeat(5000), 'Bearer kms_é.adm_ÿ'))
          .map(([k, form]) => form.replace('{k}', k).replace('{k-1}', k.slice(0, -1))),
        weight: 1,
      },
      { arbitrary: headerValue, weight: 1 },
    );
  };

  const headers = (route: RouteEntry): fc.Arbitrary<Record<string, string>> =>
    fc
      .record(
        {
          authorization: authorization(route),
          'content-type': fc.oneof({ arbitrary: fc.constant('application/json'), weight: 12 }, { arbitrary: fc.constantFrom(...CONTENT_TYPES), weight: 2 }, { arbitrary: fc.constant(null), weight: 1 }),
          'idempotency-key': fc.oneof(
            { arbitrary: fc.constant(null), weight: 12 },
            { arbitrary: fc.constantFrom('k1', 'k2', 'k3'), weight: 1 },
            { arbitrary: fc.constantFrom('', ' ', 'a'.repeat(300), 'é'), weight: 1 },
            { arbitrary: headerValue, weight: 1 },
          ),
          odd: fc.array(fc.tuple(fc.constantFrom('x-forwarded-for', 'x-real-ip', 'accept', 'accept-encoding', 'accept-language', 'x-request-id', 'user-agent', 'origin', 'cookie', 'range', 'if-none-match', 'x-http-method-override', 'x-fuzz'), headerValue), { maxLength: 3 }),
        },
      )
      .map((h) => {
        const out: Record<string, string> = {};
        for (const [name, value] of h.odd ?? []) out[name] = value;
        for (const name of ['authorization', 'content-type', 'idempotency-key'] as const) if (typeof h[name] === 'string') out[name] = h[name];
        return out;
      });

  /** The route's path with each parameter (and wildcard) filled, plus a query string; clean parts are real ids and no query. */
  const pathOf = (route: RouteEntry, hostile: { path: boolean; query: boolean }): fc.Arbitrary<string> => {
    const names = [...route.url.matchAll(/:([A-Za-z_]+)|\*/g)].map((m) => m[1] ?? '*');
    const realOne = (name: string) => fc.constantFrom(...(name === 'token' ? real.token : real.id));
    const segment = (name: string) =>
      hostile.path
        ? fc.oneof(
            { arbitrary: hostileSegment, weight: 3 },
            { arbitrary: realOne(name), weight: 2 },
            { arbitrary: fc.constantFrom(...real.token, ...real.id).map((v) => `${v}${v.length % 2 ? '%00' : '/..'}`), weight: 1 },
          )
        : realOne(name);
    const query = hostile.query ? fc.oneof({ arbitrary: fc.constant(''), weight: 1 }, { arbitrary: queryString, weight: route.method === 'GET' ? 4 : 2 }) : fc.constant('');
    const tail = hostile.path ? fc.constantFrom('', '', '', '/', '?', '#x') : fc.constant('');
    return fc.tuple(fc.tuple(...names.map(segment)), query, tail, hostile.path ? fc.boolean() : fc.constant(false)).map(([values, q, end, doubled]) => {
      let i = 0;
      let path = route.url.replace(/:[A-Za-z_]+|\*/g, () => values[i++]!);
      if (doubled) path = path.replace('/', '//');
      return `${path}${q ? `?${q}` : ''}${end}`;
    });
  };

  /**
   * Requests hostile in every part, or in one part with the others as a client would send them, so that hostile
   * bodies, headers, queries and paths each reach the code behind the checks of the other parts.
   */
  const FOCUS = fc.oneof(
    { arbitrary: fc.constant('everything' as const), weight: 3 },
    { arbitrary: fc.constant('body' as const), weight: 3 },
    { arbitrary: fc.constantFrom('headers' as const, 'query' as const, 'path' as const), weight: 3 },
  );
  const request = (): fc.Arbitrary<FuzzRequest> =>
    fc.tuple(fc.noBias(fc.constantFrom(...routes())), fc.noBias(FOCUS)).chain(([route, focus]) => {
      const hostile = (part: 'body' | 'headers' | 'query' | 'path') => focus === 'everything' || focus === part;
      const fitting = authorizationFor(route);
      const cleanHeaders = fc.constantFrom(...fitting).map((k) => ({ authorization: `Bearer ${k}`, 'content-type': 'application/json' }));
      const cleanBody = route.method === 'GET' || route.method === 'DELETE' ? fc.constant(null) : fc.constantFrom(...validBodies(route)).map((b) => Buffer.from(toJsonText(b)));
      return fc
        .record({
          method: focus === 'everything' ? fc.oneof({ arbitrary: fc.constant(route.method), weight: 12 }, { arbitrary: fc.constantFrom(...METHODS, 'HEAD', 'OPTIONS'), weight: 1 }) : fc.constant(route.method),
          path: pathOf(route, { path: hostile('path'), query: hostile('query') }),
          headers: hostile('headers') ? headers(route) : cleanHeaders,
          body: hostile('body')
            ? fc.oneof({ arbitrary: bodyText(route), weight: route.method === 'GET' ? 1 : 12 }, { arbitrary: fc.constant(null), weight: route.method === 'GET' ? 6 : 1 })
            : cleanBody,
          from: fc.constant(`${route.method} ${route.url}`),
        })
        .map((r) => Object.assign(r, { [fc.toStringMethod]: () => describeRequest(r) }));
    });

  function send(r: FuzzRequest): Promise<Answer> {
    const url = new URL(t.url);
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { ...r.headers };
      if (r.body) headers['content-length'] = r.body.length;
      const req = http.request({ host: url.hostname, port: url.port, method: r.method, path: r.path, headers, agent, timeout: 20_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), location: res.headers.location ?? '', body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('no answer within 20 s')));
      req.on('error', reject);
      req.end(r.body ?? undefined);
    });
  }

  /** The route that answers a path, found the way the server finds it (same router options). */
  const answeringRoute = () => {
    const router = FindMyWay({ ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 500 });
    for (const r of routes()) router.on(r.method as HTTPMethod, r.url, () => undefined, { name: `${r.method} ${r.url}` });
    return (method: string, path: string): string | null => {
      try {
        const found = router.find((method === 'HEAD' ? 'GET' : method) as HTTPMethod, path.split('?')[0]!.split('#')[0]!);
        return (found?.store as { name?: string } | undefined)?.name ?? null;
      } catch {
        return null;
      }
    };
  };

  function check(r: FuzzRequest, a: Answer, route: string | null): void {
    const what = `${r.method} ${r.path.slice(0, 300)} (from ${r.from}, answered by ${route ?? 'no route'}) → ${a.status} ${a.contentType}: ${a.body.toString('utf8', 0, 500)}`;
    expect(a.status, what).toBeGreaterThanOrEqual(200);
    expect(a.status, what).toBeLessThan(500);
    if (r.method === 'HEAD') return;
    const declared = route ? NON_ENVELOPE_ROUTES.find((d) => d.route.test(route)) : undefined;
    // the reference's own pages send a browser on to the page (index.html → /docs) without a body
    if (declared?.redirects && a.status >= 300 && a.status < 400) {
      expect(a.location, what).toMatch(/^[./a-z]/i);
      return;
    }
    if (!/^application\/json(;|$)/.test(a.contentType)) {
      expect(declared, `${what}\n${route} answered ${a.contentType}: if that is right, declare it in NON_ENVELOPE_ROUTES`).toBeDefined();
      expect(a.contentType, what).toMatch(declared!.contentType);
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(a.body.toString('utf8'));
    } catch {
      throw new Error(`${what}\nthe body is not JSON`);
    }
    const b = body as Record<string, unknown>;
    if (a.status < 400) {
      if (declared?.document) return;
      expect(b?.success, what).toBe(true);
      return;
    }
    expect(b, what).toMatchObject({ success: false, error: b.code, message: expect.any(String) });
    expect(Object.keys(ERROR_CODES), what).toContain(b.code);
    const code = b.code as ErrorCode;
    expect([ERROR_CODES[code].status, ...(OTHER_STATUSES[code] ?? [])], what).toContain(a.status);
  }

  it(`answers ${RUNS} generated requests to every route without a 5xx, in the envelope or as declared`, async () => {
    const all = routes();
    expect(all.length).toBeGreaterThan(0);
    const routeOf = answeringRoute();
    const statuses = new Map<number, number>();
    const reached = new Set<string>();
    await fc.assert(
      fc.asyncProperty(request(), async (r) => {
        const a = await send(r);
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        const route = routeOf(r.method, r.path);
        if (route && a.status !== 401 && a.status !== 403) reached.add(route);
        check(r, a, route);
      }),
      { numRuns: RUNS, seed: SEED, ...(REPLAY_PATH ? { path: REPLAY_PATH, endOnFailure: true } : {}), verbose: 0 },
    );
    // the generated input got past authentication to the handlers, and some of it was valid
    const passed = [...statuses].filter(([s]) => s !== 401 && s !== 403).reduce((n, [, c]) => n + c, 0);
    expect(passed, JSON.stringify([...statuses])).toBeGreaterThan(RUNS / 2);
    expect(statuses.get(200) ?? 0, JSON.stringify([...statuses])).toBeGreaterThan(0);
    expect(reached.size, [...reached].join('\n')).toBeGreaterThan(all.length / 2);
  }, 600_000);

  it('is healthy afterwards: /health is ok and a normal send is accepted', async () => {
    const health = await call(`${t.url}/health`);
    expect([health.status, health.body.status]).toEqual([200, 'ok']);
    const ready = await call(`${t.url}/ready`);
    expect(ready.status).toBe(200);
    const sent = await call(`${t.url}/api/v1/send-email/instant`, { key: keys.regular, body: { to: 'after@example.test', subject: 'after the fuzz', text: 'still here' } });
    expect(sent.status, sent.text).toBe(200);
    const got = await call(`${t.url}/api/v1/emails/${sent.body.id as string}`, { key: keys.admin });
    expect(got.status, got.text).toBe(200);
  });
});
