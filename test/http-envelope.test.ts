import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { RawConnection, rawExchange } from './support/raw-http.js';

const envelope = (code: string) => ({ success: false, error: code, code, message: expect.any(String) as string });

describe.each(BACKENDS)('every answer is the envelope, framework errors included, on %s', (backend) => {
  let t: TestApp;
  let ws: { id: string; adminKey: string; key: string };

  beforeAll(async () => {
    t = await startTestApp({ backend });
    ws = await t.workspace();
  });
  afterAll(() => t?.close());

  const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ws.key}\r\nConnection: close\r\n\r\n`;
  const post = (headers: string, body = '') => `POST /api/v1/send-email/async HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ws.key}\r\nContent-Type: application/json\r\n${headers}\r\n${body}`;

  // each input reaches one of fastify's or Node's own error paths
  const cases: { name: string; request: () => string; status: number; code: string; message?: RegExp }[] = [
    { name: 'malformed percent-encoding in a path parameter (FST_ERR_BAD_URL)', request: () => get('/api/v1/public/domains/domain-status/%ff%fe%00'), status: 400, code: 'VALIDATION_ERROR', message: /Malformed URL/ },
    { name: 'malformed percent-encoding elsewhere in the path', request: () => get('/api/v1/emails/%zz'), status: 400, code: 'VALIDATION_ERROR' },
    { name: 'a path parameter over 500 characters (FST_ERR_MAX_PARAM_LENGTH)', request: () => get(`/api/v1/emails/${'a'.repeat(501)}`), status: 404, code: 'NOT_FOUND' },
    { name: 'a request line that is not HTTP', request: () => 'GARBAGE\r\n\r\n', status: 400, code: 'VALIDATION_ERROR', message: /Malformed HTTP/ },
    { name: 'an invalid method token', request: () => 'FO(O / HTTP/1.1\r\nHost: x\r\n\r\n', status: 400, code: 'VALIDATION_ERROR' },
    { name: 'a NUL byte in a header', request: () => 'GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n', status: 400, code: 'VALIDATION_ERROR' },
    { name: 'headers over the size limit', request: () => `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, status: 431, code: 'HEADERS_TOO_LARGE' },
    { name: 'a Content-Length that is not a number', request: () => post('Content-Length: abc\r\n'), status: 400, code: 'VALIDATION_ERROR', message: /Content-Length/ },
    { name: 'two different Content-Length headers', request: () => post('Content-Length: 3\r\nContent-Length: 4\r\n', 'abcd'), status: 400, code: 'VALIDATION_ERROR', message: /Content-Length/ },
    { name: 'Content-Length next to chunked Transfer-Encoding', request: () => post('Content-Length: 3\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), status: 400, code: 'VALIDATION_ERROR' },
    { name: 'a malformed chunk size', request: () => post('Transfer-Encoding: chunked\r\n', 'zz\r\n'), status: 400, code: 'VALIDATION_ERROR' },
    { name: 'QUERY without a Content-Type (FST_ERR_ROUTE_MISSING_CONTENT_TYPE)', request: () => 'QUERY /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}', status: 400, code: 'VALIDATION_ERROR' },
    { name: 'an HTTP/2 preface on the HTTP/1.1 port', request: () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', status: 400, code: 'VALIDATION_ERROR' },
    { name: 'an asterisk-form target', request: () => 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', status: 404, code: 'NOT_FOUND' },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const answer = await rawExchange(t.url, c.request());
      expect(answer, 'an answer').not.toBeNull();
      expect(answer!.status).toBe(c.status);
      expect(answer!.headers['content-type']).toMatch(/^application\/json/);
      const body = JSON.parse(answer!.body) as Record<string, unknown>;
      expect(body).toEqual(envelope(c.code));
      if (c.message) expect(body.message).toMatch(c.message);
    });
  }

  it('a HEAD request whose request line is too long gets 431 without a body (a client would read it as the next answer)', async () => {
    const answer = await rawExchange(t.url, `HEAD /health?${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(answer?.status).toBe(431);
    expect(answer!.raw.endsWith('\r\n\r\n'), answer!.raw).toBe(true);
    const get = await rawExchange(t.url, `GET /health?${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect([get?.status, JSON.parse(get!.body)]).toEqual([431, envelope('HEADERS_TOO_LARGE')]);
  });

  it('a query parameter given twice is a 400 naming it, on every route that reads one', async () => {
    for (const path of ['/api/v1/emails?status=queued&status=failed', '/api/v1/emails?recipient=a@x.test&recipient=b@x.test', '/api/v1/public/emails/get-email?id=a&id=b', '/api/v1/captured?email_id=a&email_id=b', '/api/v1/send-email/scheduled?limit=1&limit=2']) {
      const res = await call(`${t.url}${path}`, { key: ws.key });
      expect([res.status, res.body], path).toEqual([400, envelope('VALIDATION_ERROR')]);
      expect(res.body.message).toMatch(/^Query parameter '\w+' is given more than once/);
    }
  });

  it('a cursor or a time the database cannot compare with is a 400, on every list', async () => {
    const cursor = (pair: unknown) => Buffer.from(JSON.stringify(pair)).toString('base64url');
    const paths = ['/api/v1/emails', '/api/v1/captured', '/api/v1/send-email/scheduled'].flatMap((list) => [
      `${list}?cursor=${cursor(['2026-01-01T00:00:00.000Z', 'x\u0000'])}`,
      `${list}?cursor=${cursor(['-271821-04-20T00:00:00.000Z', 'x'])}`,
      `${list}?cursor=${cursor(['+275760-09-13T00:00:00.000Z', 'x'])}`,
    ]);
    paths.push('/api/v1/emails?since=-271821-04-20T00:00:00Z', '/api/v1/emails?until=%2B275760-09-13T00:00:00Z', '/api/v1/emails?since=-000001-01-01T00:00:00Z');
    for (const path of paths) {
      const res = await call(`${t.url}${path}`, { key: ws.key });
      expect([res.status, res.body], path).toEqual([400, envelope('VALIDATION_ERROR')]);
    }
    const edge = await call(`${t.url}/api/v1/emails?since=0001-01-01T00:00:00Z&until=9999-12-31T23:59:59Z&cursor=${cursor(['9999-12-31T00:00:00.000Z', 'x'])}`, { key: ws.key });
    expect(edge.status, edge.text).toBe(200);
  });

  it('a POST, PUT or PATCH without a body or a Content-Type is read as an empty object, not a 500', async () => {
    const saved = await call(`${t.url}/api/v1/templates/save`, { key: ws.key, body: { name: 'n', subject: 's', html: '<p>x</p>' } });
    const id = (saved.body.data as { id: string }).id;
    const cases: [string, string, number][] = [
      ['POST', '/api/v1/templates/save', 400],
      ['PUT', `/api/v1/templates/${id}`, 200],
      ['PATCH', `/api/v1/templates/${id}`, 200],
      ['POST', `/api/v1/templates/${id}/render`, 200],
      ['POST', '/api/v1/send-email/async', 400],
    ];
    for (const [method, path, status] of cases) {
      const res = await call(`${t.url}${path}`, { method, key: ws.key });
      expect(res.status, `${method} ${path}: ${res.text}`).toBe(status);
      if (status === 400) expect(res.body).toEqual(envelope('VALIDATION_ERROR'));
    }
  });

  it('the body limits and content types answer in the envelope too (413, 415)', async () => {
    const tooLarge = await call(`${t.url}/api/v1/templates/save`, { key: ws.key, rawBody: JSON.stringify({ name: 'x', html: 'x'.repeat(2 * 1024 * 1024) }), headers: { 'content-type': 'application/json' } });
    expect([tooLarge.status, tooLarge.body]).toEqual([413, envelope('PAYLOAD_TOO_LARGE')]);
    const xml = await call(`${t.url}/api/v1/templates/save`, { key: ws.key, rawBody: '<x/>', headers: { 'content-type': 'application/xml' } });
    expect([xml.status, xml.body]).toEqual([415, envelope('UNSUPPORTED_MEDIA_TYPE')]);
  });

  describe('NUL characters are a 400 naming the field, never a database error', () => {
    const send = (body: Record<string, unknown>) => call(`${t.url}/api/v1/send-email/async`, { key: ws.key, body: { to: 'a@example.test', subject: 's', body: 'b', ...body } });
    const expectNul = (res: { status: number; body: Record<string, unknown> }, field: string) => {
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body).toEqual(envelope('VALIDATION_ERROR'));
      expect(res.body.message).toBe(`Field '${field}' must not contain NUL characters (\\u0000)`);
    };

    it('in send fields: subject, body, metadata, tags, names, addresses, headers', async () => {
      expectNul(await send({ subject: 'a\u0000b' }), 'subject');
      expectNul(await send({ body: 'a\u0000b' }), 'body');
      expectNul(await send({ metadata: { note: 'a\u0000b' } }), 'metadata.note');
      expectNul(await send({ metadata: { deep: { list: [1, 'x\u0000'] } } }), 'metadata.deep.list[1]');
      expectNul(await send({ tags: ['ok', '\u0000'] }), 'tags[1]');
      expectNul(await send({ from: 's@example.test', from_name: 'A\u0000' }), 'from_name');
      expectNul(await send({ to: ['a@example.test', 'b\u0000@example.test'] }), 'to[1]');
      expectNul(await send({ headers: { 'X-A': 'v\u0000' } }), 'headers.X-A');
    });

    it('in an object key', async () => {
      const res = await send({ metadata: { 'k\u0000': 'v' } });
      expect(res.status).toBe(400);
      expect(res.body.message).toBe("Field 'metadata' must not contain NUL characters (\\u0000)");
    });

    it('in templates: saved content and send params', async () => {
      expectNul(await call(`${t.url}/api/v1/templates/save`, { key: ws.key, body: { name: 'n', subject: 's', html: '<p>\u0000</p>' } }), 'html');
      const saved = await call(`${t.url}/api/v1/templates/save`, { key: ws.key, body: { name: 'n', subject: 'Hi {{name}}', html: '<p>{{name}}</p>' } });
      const id = (saved.body.data as { id: string }).id;
      expectNul(await call(`${t.url}/api/v1/send-email/async`, { key: ws.key, body: { to: 'a@example.test', template_id: id, params: { name: 'x\u0000' } } }), 'params.name');
      expectNul(await call(`${t.url}/api/v1/send-email/async`, { key: ws.key, body: { to: 'a@example.test', template_id: id, template_data: { name: 'x\u0000' } } }), 'template_data.name');
      expectNul(await call(`${t.url}/api/v1/templates/${id}/render`, { key: ws.key, body: { params: { name: '\u0000' } } }), 'params.name');
    });

    it('in query strings and path parameters', async () => {
      const query = await call(`${t.url}/api/v1/emails?recipient=a%00b`, { key: ws.key });
      expect([query.status, query.body.message]).toEqual([400, "Query parameter 'recipient' must not contain NUL characters (\\u0000)"]);
      const getEmail = await call(`${t.url}/api/v1/public/emails/get-email?id=msg_%00`, { key: ws.key });
      expect(getEmail.status).toBe(400);
      const param = await call(`${t.url}/api/v1/emails/msg_%00`, { key: ws.key });
      expect([param.status, param.body.message]).toEqual([400, "Path parameter 'id' must not contain NUL characters (\\u0000)"]);
      const domain = await call(`${t.url}/api/v1/public/domains/domain-status/%00`, { key: ws.adminKey });
      expect(domain.status).toBe(400);
    });

    it('unpaired surrogates, which PostgreSQL cannot store either, are refused the same way', async () => {
      for (const [body, field] of [[{ metadata: { a: '\ud800' } }, 'metadata.a'], [{ tags: ['\udc00'] }, 'tags[0]']] as const) {
        const res = await send(body);
        expect(res.status).toBe(400);
        expect(res.body.message).toBe(`Field '${field}' must not contain unpaired surrogates (\\uD800-\\uDFFF): it is not valid Unicode`);
      }
      expect((await send({ metadata: { smile: '\ud83d\ude00' } })).status).toBe(200);
    });

    it('the same text without NUL is accepted (an escaped backslash is not a NUL)', async () => {
      const ok = await send({ metadata: { note: 'a\\u0000b' } });
      expect(ok.status).toBe(200);
    });
  });
});

describe('a request arriving while the server drains', () => {
  it('is answered 503 SERVICE_UNAVAILABLE in the envelope, with Retry-After', async () => {
    const t = await startTestApp({ backend: 'pglite', roles: { api: true, worker: false } });
    const ws = await t.workspace();
    const c = await RawConnection.open(t.url);
    try {
      // the first request is routed before the drain begins, its body still on its way
      c.write(`POST /api/v1/integrations/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ws.key}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{`);
      await new Promise((r) => setTimeout(r, 200));
      const closing = t.app.http!.close();
      await new Promise((r) => setTimeout(r, 100));
      c.write(`}GET /health HTTP/1.1\r\nHost: x\r\n\r\n`);
      await c.closedWithin(5_000);
      await closing;
      const second = c.received.slice(c.received.indexOf('HTTP/1.1', 10));
      expect(second).toMatch(/^HTTP\/1.1 503/);
      expect(second.toLowerCase()).toContain('retry-after: 1');
      expect(JSON.parse(second.slice(second.indexOf('\r\n\r\n') + 4))).toEqual(envelope('SERVICE_UNAVAILABLE'));
    } finally {
      c.destroy();
      await t.close();
    }
  });
});
