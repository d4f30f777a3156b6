import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sql } from 'kysely';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { BACKENDS, createPostgresDatabase, type Backend, type TestPostgres } from './support/databases.js';
import { run } from '../src/cli/run.js';
import { runCli, startServerProcess, type ServerProcess } from './support/processes.js';
import { initialisedDataDir } from './support/data-dirs.js';

const ROWS = 10_000;
/** IMPORT_MAX_BYTES of these tests: above the 10,000-row file, low enough to send more than it cheaply */
const MAX_BYTES = 1_500_000;

/** A file of `n` contacts: every spelling of the columns the import maps, and a custom field. */
function generatedCsv(n: number): string {
  const lines = ['Email,First Name,lastName,company_name,Job Title,phone_number,tags,plan'];
  for (let i = 0; i < n; i++) lines.push(`user${i}@example.com,First${i},Last${i},Company ${i % 97},Engineer,+1 555 ${String(i).padStart(7, '0')},"vip;batch${i % 5}",pro`);
  return `${lines.join('\n')}\n`;
}

interface ImportView {
  id: string;
  status: string;
  rows_read: number;
  created: number;
  updated: number;
  skipped: number;
  failed: number;
  errors: { row: number; column: string | null; reason: string }[];
  errors_total: number;
  error: string | null;
  bytes: number;
}

describe.each(BACKENDS)('CSV import of contacts (%s)', (backend: Backend) => {
  let t: TestApp;
  let ws: { id: string; adminKey: string; key: string };

  beforeAll(async () => {
    t = await startTestApp({ backend, env: { IMPORT_MAX_BYTES: String(MAX_BYTES), IMPORT_MAX_ACTIVE: '3' } });
    ws = await t.workspace();
  });
  afterAll(() => t?.close());

  const upload = (csv: string, opts: { key?: string; query?: string; contentType?: string } = {}) =>
    call(`${t.url}/api/v1/public/contacts/import${opts.query ?? ''}`, { method: 'POST', key: opts.key ?? ws.adminKey, rawBody: csv, headers: { 'content-type': opts.contentType ?? 'text/csv' } });

  async function uploadMultipart(csv: string, fields: Record<string, string> = {}, key = ws.adminKey) {
    const form = new FormData();
    // the field before the file and after it: both are read
    form.append('note', 'ignored');
    form.append('file', new Blob([csv], { type: 'text/csv' }), 'contacts.csv');
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    const res = await fetch(`${t.url}/api/v1/public/contacts/import`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async function finished(id: string, key = ws.adminKey): Promise<ImportView> {
    return waitFor(
      async () => {
        const res = await call(`${t.url}/api/v1/public/contacts/imports/${id}`, { key });
        expect(res.status, res.text).toBe(200);
        const data = res.body.data as ImportView;
        return data.status === 'completed' || data.status === 'failed' ? data : null;
      },
      { timeoutMs: 120_000, intervalMs: 100, what: `import ${id}` },
    );
  }

  const count = async (table: 'contacts' | 'contact_events', where = sql`true`) => {
    const res = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(table)} WHERE workspace_id = ${ws.id} AND ${where}`.execute(t.app.services.database.db);
    return res.rows[0]!.n;
  };

  it('imports 10,000 rows as text/csv with exact counts, and the same file again as multipart changes nothing', async () => {
    const audience = await t.app.services.audiences.create(ws.id, { name: 'Imported' });
    const csv = generatedCsv(ROWS);
    const res = await upload(csv, { query: `?audience_id=${audience.id}` });
    expect(res.status, res.text).toBe(202);
    const data = res.body.data as { id: string; status: string; bytes: number; status_url: string };
    expect(data).toMatchObject({ status: 'queued', bytes: Buffer.byteLength(csv) });
    expect(data.status_url).toBe(`${t.config.publicUrl}/api/v1/public/contacts/imports/${data.id}`);

    const done = await finished(data.id);
    expect(done).toMatchObject({ status: 'completed', rows_read: ROWS, created: ROWS, updated: 0, skipped: 0, failed: 0, errors: [], errors_total: 0, error: null });
    expect(await count('contacts')).toBe(ROWS);
    expect((await t.app.services.audiences.get(ws.id, audience.id)).contact_count).toBe(ROWS);
    expect(await count('contact_events', sql`type = 'contact.created'`)).toBe(ROWS);
    expect(await count('contact_events', sql`type = 'contact.subscribed'`)).toBe(ROWS);
    const one = await t.app.services.contacts.get(ws.id, { email: 'USER42@example.com' });
    expect(one).toMatchObject({
      email: 'user42@example.com',
      first_name: 'First42',
      last_name: 'Last42',
      company_name: 'Company 42',
      job_title: 'Engineer',
      phone: '+1 555 0000042',
      tags: ['vip', 'batch2'],
      custom_fields: { plan: 'pro' },
    });

    const events = await count('contact_events');
    const again = await uploadMultipart(csv, { audience_id: audience.id });
    expect(again.status, JSON.stringify(again.body)).toBe(202);
    const second = await finished((again.body.data as { id: string }).id);
    expect(second).toMatchObject({ status: 'completed', rows_read: ROWS, created: 0, updated: 0, skipped: ROWS, failed: 0 });
    expect(await count('contact_events')).toBe(events);
    expect((await t.app.services.audiences.get(ws.id, audience.id)).contact_count).toBe(ROWS);
  }, 180_000);

  it('reports malformed rows with their line and column and imports the rest; changed rows count as updated', async () => {
    await t.app.services.contacts.add(ws.id, 'Known@Example.com', { profile: { first_name: 'Old', tags: ['a'] } });
    const csv = [
      'email,name,tags,status',
      'good1@example.com,Grace Brewster Hopper,x|y,',
      'not-an-email,Bad Row,,',
      'short@example.com,Too Few',
      `long@example.com,${'n'.repeat(300)},,`,
      'nul@example.com,Nul\0Name,,',
      'known@example.com,New Name,"a,b",',
      'good1@EXAMPLE.com,Grace Hopper,,',
      'bad-status@example.com,Someone,,maybe',
      'good2@example.com,Solo,,unsubscribed',
    ].join('\r\n');
    const res = await upload(csv);
    expect(res.status, res.text).toBe(202);
    const done = await finished((res.body.data as { id: string }).id);
    expect(done).toMatchObject({ status: 'completed', rows_read: 9, created: 2, updated: 2, skipped: 0, failed: 5, errors_total: 5 });
    expect(done.errors).toEqual([
      { row: 3, column: 'email', reason: 'is not a valid email address: "not-an-email"' },
      { row: 4, column: null, reason: 'has 2 columns; the header has 4' },
      { row: 5, column: 'name', reason: 'is longer than 200 characters' },
      { row: 6, column: 'name', reason: 'contains a NUL character' },
      { row: 9, column: 'status', reason: 'must be subscribed or unsubscribed, not "maybe"' },
    ]);
    // the second row of an address is applied after the first: Grace Hopper, no middle name
    expect(await t.app.services.contacts.get(ws.id, { email: 'good1@example.com' })).toMatchObject({ email: 'good1@example.com', first_name: 'Grace', last_name: 'Hopper', tags: ['x', 'y'] });
    expect(await t.app.services.contacts.get(ws.id, { email: 'known@example.com' })).toMatchObject({ email: 'Known@Example.com', first_name: 'New', last_name: 'Name', tags: ['a', 'b'] });
  });

  it('refuses a row too long or a quote that never closes, and reads on from the next line', async () => {
    const csv = [
      'email,note',
      'before@long.example,ok',
      `huge@long.example,${'x'.repeat(200_000)}`,
      'after@long.example,ok',
      // empty lines are skipped, however many
      '\n'.repeat(150_000),
      'last@long.example,"never closed',
      'swallowed@long.example,ok',
    ].join('\n');
    const res = await upload(csv);
    expect(res.status, res.text).toBe(202);
    const done = await finished((res.body.data as { id: string }).id);
    // a quote that never closes takes the rest of the file into its value, as CSV has it
    expect(done).toMatchObject({ status: 'completed', created: 2, failed: 2 });
    expect(done.errors.map((e) => e.row)).toEqual([3, 150_007]);
    expect(done.errors[0]!.reason).toBe('is longer than 65536 bytes (or a quote never closes); reading goes on at line 4');
    expect(done.errors[1]!.reason).toContain('Quote Not Closed');
    for (const email of ['before@long.example', 'after@long.example']) expect((await t.app.services.contacts.get(ws.id, { email })).email).toBe(email);
  });

  it('fails a file without an email column with a clear error, and an empty file too', async () => {
    const res = await upload('name,company\nAda,Engines\n');
    const done = await finished((res.body.data as { id: string }).id);
    expect(done).toMatchObject({ status: 'failed', rows_read: 0, error: 'The file has no email column: its first row must name the columns, one of them "email"' });
    const empty = await finished(((await upload('')).body.data as { id: string }).id);
    expect(empty).toMatchObject({ status: 'failed', error: expect.stringContaining('empty') });
  });

  it('refuses an upload over IMPORT_MAX_BYTES with 413, declared or streamed, and keeps nothing of it', async () => {
    const big = `email\n${'x'.repeat(MAX_BYTES)}\n`;
    const declared = await upload(big);
    expect(declared.status).toBe(413);
    expect(declared.body).toMatchObject({ success: false, error: 'PAYLOAD_TOO_LARGE', code: 'PAYLOAD_TOO_LARGE' });
    const chunks = [Buffer.from('email\n'), Buffer.alloc(MAX_BYTES, 'y')];
    const streamed = await fetch(`${t.url}/api/v1/public/contacts/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ws.adminKey}`, 'content-type': 'text/csv' },
      body: new ReadableStream({
        pull(controller) {
          const next = chunks.shift();
          if (next) controller.enqueue(next);
          else controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(((await streamed.json()) as { error: string }).error).toBe('PAYLOAD_TOO_LARGE');
    const left = await t.app.services.database.db.selectFrom('contact_imports').select('id').where('workspace_id', '=', ws.id).where('status', '=', 'receiving').execute();
    expect(left).toEqual([]);
  });

  it('resumes an interrupted import from its last written batch, counting every row once', async () => {
    const imports = t.app.services.contactImports;
    const audience = await t.app.services.audiences.create(ws.id, { name: 'Resumed' });
    const csv = generatedCsv(5000).replaceAll('@example.com', '@resume.example');
    const id = await imports.begin(ws.id, audience.id);
    await imports.store(id, [Buffer.from(csv)]);
    await imports.submit(ws.id, id, { audienceId: audience.id, enqueue: false });
    // the process dies after its first batch is written: the run stops there
    let writes = 0;
    await expect(
      imports.run(id, () => {
        if (++writes === 1) throw new Error('crash');
      }),
    ).rejects.toThrow('crash');
    const midway = await imports.get(ws.id, id);
    expect(midway.status).toBe('running');
    expect(midway.rows_created).toBeGreaterThan(0);
    expect(midway.rows_created).toBeLessThan(5000);
    await imports.run(id);
    const done = await imports.get(ws.id, id);
    expect(done).toMatchObject({ status: 'completed', rows_read: 5000, rows_created: 5000, rows_updated: 0, rows_skipped: 0, rows_failed: 0 });
    expect(await count('contact_events', sql`type = 'contact.created' AND data->>'import_id' = ${id}`)).toBe(5000);
    expect((await t.app.services.audiences.get(ws.id, audience.id)).contact_count).toBe(5000);
    expect(await t.app.services.database.db.selectFrom('contact_import_chunks').select('seq').where('import_id', '=', id).execute()).toEqual([]);
  });

  it('fails an import whose audience was deleted before it ran', async () => {
    const imports = t.app.services.contactImports;
    const audience = await t.app.services.audiences.create(ws.id, { name: 'Gone' });
    const id = await imports.begin(ws.id, audience.id);
    await imports.store(id, ['email\ngone@example.com\n']);
    await imports.submit(ws.id, id, { audienceId: audience.id, enqueue: false });
    await t.app.services.audiences.delete(ws.id, audience.id);
    await imports.run(id);
    expect(await imports.get(ws.id, id)).toMatchObject({ status: 'failed', error: 'The audience of this import was deleted', rows_read: 0 });
  });

  it("retries a failing import's job, and fails the import on its last attempt", async () => {
    const imports = t.app.services.contactImports;
    const id = await imports.begin(ws.id);
    await imports.store(id, ['email\nretry@example.com\n']);
    await imports.submit(ws.id, id, { enqueue: false });
    const broken = vi.spyOn(imports, 'run').mockRejectedValue(new Error('the database went away'));
    try {
      await expect(imports.runJob(id, 1)).rejects.toThrow('the database went away');
      expect((await imports.get(ws.id, id)).status).toBe('queued');
      await imports.runJob(id, 5);
    } finally {
      broken.mockRestore();
    }
    expect(await imports.get(ws.id, id)).toMatchObject({ status: 'failed', error: 'The import stopped after 5 attempts: the database went away' });
  });

  it('allows IMPORT_MAX_ACTIVE imports in progress per workspace, then answers 429', async () => {
    const other = await t.workspace();
    const imports = t.app.services.contactImports;
    const held = [await imports.begin(other.id), await imports.begin(other.id), await imports.begin(other.id)];
    const refused = await upload('email\nx@example.com\n', { key: other.adminKey });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: 'RATE_LIMITED' });
    expect(refused.headers.get('retry-after')).toBe('30');
    await imports.discard(held[0]!);
    expect((await upload('email\nx@example.com\n', { key: other.adminKey })).status).toBe(202);
    // an upload whose process died while receiving it stops counting after 10 minutes and is removed after an hour
    await t.app.services.database.db.updateTable('contact_imports').set({ updated_at: new Date(Date.now() - 2 * 3600_000) }).where('id', '=', held[1]!).execute();
    expect(await imports.expireAbandoned()).toBe(1);
    expect(await t.app.services.database.db.selectFrom('contact_imports').select('id').where('id', '=', held[1]!).execute()).toEqual([]);
  });

  it('keeps imports to their workspace, checks the audience, and leaves other routes answering 415 to CSV', async () => {
    const other = await t.workspace();
    const res = await upload('email\nmine@example.com\n');
    const id = (res.body.data as { id: string }).id;
    await finished(id);
    const seen = await call(`${t.url}/api/v1/public/contacts/imports/${id}`, { key: other.adminKey });
    expect(seen.status).toBe(404);
    expect(seen.body.error).toBe('NOT_FOUND');
    expect((await call(`${t.url}/api/v1/public/contacts/imports/not-a-uuid`, { key: ws.adminKey })).status).toBe(404);
    const theirAudience = await t.app.services.audiences.create(other.id, { name: 'Theirs' });
    const cross = await upload('email\nx@example.com\n', { query: `?audienceId=${theirAudience.id}` });
    expect(cross.status).toBe(404);
    expect(cross.body.message).toBe('Audience not found');
    const crossField = await uploadMultipart('email\nx@example.com\n', { audienceId: theirAudience.id });
    expect(crossField.status).toBe(404);
    const json = await call(`${t.url}/api/v1/public/contacts/import`, { key: ws.adminKey, body: { email: 'x@example.com' } });
    expect(json.status).toBe(415);
    expect(json.body.error).toBe('UNSUPPORTED_MEDIA_TYPE');
    const elsewhere = await call(`${t.url}/api/v1/templates/save`, { method: 'POST', key: ws.key, rawBody: 'email\nx@example.com\n', headers: { 'content-type': 'text/csv' } });
    expect(elsewhere.status).toBe(415);
    expect((await t.app.services.database.db.selectFrom('contacts').select('id').where('workspace_id', '=', other.id).execute()).length).toBe(0);
  });
});

describe('keplars-server contacts import (spawned, PostgreSQL)', () => {
  let pg: TestPostgres;
  let dir: string;
  beforeAll(async () => {
    pg = await createPostgresDatabase();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'keplars-import-'));
  });
  afterAll(async () => {
    await pg?.drop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('imports a file with progress lines on stderr (no terminal), a summary, --json, and exit 1 for a file it cannot import', async () => {
    const env = { DATABASE_URL: pg.url, LOG_LEVEL: 'silent' };
    const created = await runCli(['workspace', 'create', '--name', 'CLI', '--print', 'workspace.id'], env);
    expect(created.code, created.stderr).toBe(0);
    const workspace = created.stdout.trim();
    const file = path.join(dir, 'contacts.csv');
    await fs.writeFile(file, `${generatedCsv(3000)}broken,row\n`);

    const first = await runCli(['contacts', 'import', file, '--workspace', workspace], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain(`Importing ${file}`);
    expect(first.stderr).not.toContain('\r');
    expect(first.stderr).toMatch(/^\d{4}-\d\d-\d\dT\S+ [\d,]+ rows read: [\d,]+ created, \d+ updated, \d+ skipped, \d+ failed \([\d,]+ rows\/s\)$/m);
    expect(first.stdout).toContain(`Imported ${file}: 3,001 rows read, 3,000 created, 0 updated, 0 unchanged, 1 refused.`);
    expect(first.stdout).toContain('3002, (row): has 2 columns; the header has 8');

    const again = await runCli(['contacts', 'import', file, '--workspace', workspace, '--json'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ status: 'completed', rows_read: 3001, created: 0, updated: 0, skipped: 3000, failed: 1 });

    const bad = path.join(dir, 'bad.csv');
    await fs.writeFile(bad, 'name\nAda\n');
    const failed = await runCli(['contacts', 'import', bad, '--workspace', workspace], env);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('The file has no email column');
    const usage = await runCli(['contacts', 'import', '--workspace', workspace], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('FILE is required');

    // on a terminal: a bar redrawn in place, with the share of the file read and rows/s, ended by a line break
    let stderr = '';
    let stdout = '';
    const onTerminal = await run(['contacts', 'import', file, '--workspace', workspace], { stdout: (x) => (stdout += x), stderr: (x) => (stderr += x), env, isTTY: true });
    expect(onTerminal, stderr).toBe(0);
    expect(stderr.endsWith('\u001b[K\n')).toBe(true);
    expect(stderr).toMatch(/\r\[#{30}\] 100% {2}3,001 rows read: 0 created, 0 updated, 3,000 skipped, 1 failed {2}[\d,]+ rows\/s/);
    expect(stdout).toContain('3,000 unchanged, 1 refused.');
  }, 120_000);
});

describe('keplars-server contacts import (spawned, embedded database)', () => {
  let dataDir: string;
  let server: ServerProcess | null = null;
  beforeAll(async () => {
    dataDir = await initialisedDataDir('keplars-import-embedded-');
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
    if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('runs the import itself with no server, and through the server that holds DATA_DIR while it runs', async () => {
    const env = { DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent' };
    const created = await runCli(['workspace', 'create', '--name', 'Embedded', '--print', 'workspace.id'], env);
    expect(created.code, created.stderr).toBe(0);
    const workspace = created.stdout.trim();
    const file = path.join(dataDir, 'contacts.csv');
    await fs.writeFile(file, generatedCsv(500));
    const alone = await runCli(['contacts', 'import', file, '--workspace', workspace, '--json'], env);
    expect(alone.code, alone.stderr).toBe(0);
    expect(JSON.parse(alone.stdout)).toMatchObject({ status: 'completed', created: 500 });

    server = await startServerProcess('start', { ...env, LOG_LEVEL: 'info' });
    await fs.writeFile(file, `${generatedCsv(800)}not-an-email,x,x,x,x,x,x,x\n`);
    const through = await runCli(['contacts', 'import', file, '--workspace', workspace], env);
    expect(through.code, through.stderr).toBe(0);
    expect(through.stdout).toContain(`Imported ${file}: 801 rows read, 300 created, 0 updated, 500 unchanged, 1 refused.`);
    expect(through.stdout).toContain('802, Email: is not a valid email address: "not-an-email"');
  }, 120_000);
});
