import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, waitFor } from './support/app.js';
import { createPostgresDatabase, type TestPostgres } from './support/databases.js';
import { runCli, startServerProcess, type ServerProcess } from './support/processes.js';

/**
 * The server's log is everything its process writes (pino's JSON lines, and anything else printed on stdout or
 * stderr, content threads included). A real server process at the most verbose level: nothing a template does
 * may show up there.
 */
describe("a template cannot write into the server's log", () => {
  let pg: TestPostgres;
  let server: ServerProcess;
  let key: string;

  beforeAll(async () => {
    pg = await createPostgresDatabase();
    const env = { DATABASE_URL: pg.url, PORT: '0', LOG_LEVEL: 'trace' };
    server = await startServerProcess('start', env);
    const created = await runCli(['workspace', 'create', '--name', 'Logs', '--plan', 'ENTERPRISE', '--json'], { DATABASE_URL: pg.url });
    key = (JSON.parse(created.stdout) as { secret_key: string }).secret_key;
  });
  afterAll(async () => {
    await server?.stop();
    await pg?.drop();
  });

  it('neither through {{log}} nor through the warnings of denied prototype access, on the event loop or a content thread', async () => {
    const url = server.url!;
    const refused = await call(`${url}/api/v1/templates/save`, { key, body: { name: 'Log', subject: 's', html: '<p>{{log "MARKER_LOG_HELPER"}}</p>' } });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('INVALID_TEMPLATE');

    // prototype properties are refused (they render empty) and Handlebars would print a warning naming each one
    const html = '<p>MARKER_BODY {{toString}} {{valueOf}} {{a.hasOwnProperty}} {{#with a}}{{isPrototypeOf}}{{/with}} {{propertyIsEnumerable}} {{x}}</p>';
    const saved = await call(`${url}/api/v1/templates/save`, { key, body: { name: 'Proto', subject: 'MARKER_SUBJECT {{toLocaleString}}', html } });
    expect(saved.status).toBe(200);
    const id = (saved.body.data as { id: string }).id;
    const small = await call(`${url}/api/v1/templates/${id}/render`, { key, body: { params: { a: {}, x: 'MARKER_PARAM' } } });
    expect((small.body.data as { html: string }).html).toBe('<p>MARKER_BODY      MARKER_PARAM</p>');
    // large data: rendered on a content thread
    const large = await call(`${url}/api/v1/templates/${id}/render`, { key, body: { params: { a: {}, x: 'MARKER_PARAM', pad: 'p'.repeat(300_000) } } });
    expect((large.body.data as { html: string }).html).toBe('<p>MARKER_BODY      MARKER_PARAM</p>');
    const sent = await call(`${url}/api/v1/send-email/instant`, { key, body: { to: 'a@example.test', template_id: id, params: { a: {}, x: 'MARKER_PARAM' } } });
    expect(sent.status).toBe(200);
    await waitFor(async () => {
      const r = await call(`${url}/api/v1/captured?email_id=${sent.body.id as string}`, { key });
      return (r.body.data as { messages: unknown[] }).messages.length > 0;
    }, { what: 'the email to be captured' });

    await server.stop();
    const output = server.output();
    expect(output).toContain('keplars-server ready'); // the capture works
    for (const text of ['MARKER', 'Handlebars', 'Access has been denied', 'own property']) expect(output).not.toContain(text);
  });
});
