import { z } from 'zod';
import { envelope, errorResponses, isoTime, operation } from '../../platform/http/schemas.js';

const IMPORT_ID = '019ad9a4-5b1c-7e2f-9a3b-4c5d6e7f8a9b';
const AUDIENCE_ID = '019ad9a0-1a2b-7c3d-8e4f-5a6b7c8d9e0f';

const importStatus = z.enum(['receiving', 'queued', 'running', 'completed', 'failed']);

const audienceQuery = z.object({
  audience_id: z.string().optional().meta({ description: 'Add every imported contact to this audience (also accepted as `audienceId`, or as a form field)' }),
  audienceId: z.string().optional().meta({ description: 'Alias of `audience_id`' }),
});

const accepted = z.object({
  id: z.string(),
  status: importStatus,
  audience_id: z.string().nullable(),
  bytes: z.number().int().describe('Bytes received'),
  status_url: z.string().describe('Where to follow the import: `GET /api/v1/public/contacts/imports/{id}`'),
});

const rowError = z.object({
  row: z.number().int().describe('The line of the file where the row ends (the header is line 1)'),
  column: z.string().nullable().describe('The column at fault, as the header names it; null for the whole row'),
  reason: z.string(),
});

const progress = z.object({
  id: z.string(),
  status: importStatus,
  audience_id: z.string().nullable(),
  bytes: z.number().int(),
  rows_read: z.number().int().describe('Rows read so far (the header not counted)'),
  created: z.number().int().describe('New contacts'),
  updated: z.number().int().describe('Existing contacts whose fields changed or that joined the audience'),
  skipped: z.number().int().describe('Rows that changed nothing'),
  failed: z.number().int().describe('Rows refused (see `errors`)'),
  errors: z.array(rowError).describe('The first 1,000 failed rows'),
  errors_total: z.number().int().describe('All failed rows (the same as `failed`)'),
  error: z.string().nullable().describe('Why the whole import failed (no email column, an unreadable file); null otherwise'),
  created_at: isoTime,
  started_at: isoTime.nullable(),
  finished_at: isoTime.nullable(),
  updated_at: isoTime.describe('The last write of the counters: at least every 2 s while running'),
});

const CSV_EXAMPLE = 'email,first_name,last_name,company,tags,plan\nada@example.com,Ada,Lovelace,Analytical Engines,"vip;beta",pro\n';

export const importContactsSchema = {
  ...operation({
    summary: 'Import contacts from a CSV file',
    description:
      'Send the file as the body (`Content-Type: text/csv`) or as a `multipart/form-data` upload (the file in any file field, `audience_id` as a field or in the query). ' +
      'The upload is stored as it arrives (at most IMPORT_MAX_BYTES, 512 MiB unless set: 413 beyond) and imported by a job: the answer (202) names the import, ' +
      'and `GET /api/v1/public/contacts/imports/{id}` follows it. The first row names the columns (see the README, "Importing contacts"): `email` is required; ' +
      '`first_name`, `last_name`, `name`, `company`, `job_title`, `phone`, `tags` and `status` are read in any spelling (`firstName`, `First Name`); other columns become custom fields. ' +
      'Importing the same file again changes nothing. A workspace runs at most IMPORT_MAX_ACTIVE imports at once (429 beyond).\n\nExample body:\n\n```csv\n' +
      CSV_EXAMPLE +
      '```',
    tag: 'Contacts',
    extension: true,
  }),
  querystring: audienceQuery,
  // declared for the reference only: the route's own parsers hand the handler the request stream, which this lets through
  consumes: ['text/csv', 'multipart/form-data'],
  body: z.unknown().meta({ description: 'The CSV file: the body itself (text/csv), or a file field of a multipart/form-data upload', examples: [CSV_EXAMPLE] }),
  response: {
    202: envelope(accepted).meta({
      examples: [
        {
          success: true,
          message: 'Import queued',
          data: { id: IMPORT_ID, status: 'queued', audience_id: AUDIENCE_ID, bytes: 104, status_url: `https://mail.example.com/api/v1/public/contacts/imports/${IMPORT_ID}` },
        },
      ],
    }),
    ...errorResponses({ key: true, extra: [404, 413, 415] }),
  },
};

export const getImportSchema = {
  ...operation({ summary: 'Follow a contact import', description: 'The counters of a CSV import and its per-row error report.', tag: 'Contacts', extension: true }),
  params: z.object({ id: z.string().meta({ description: 'The import id', examples: [IMPORT_ID] }) }),
  response: {
    200: envelope(progress).meta({
      examples: [
        {
          success: true,
          message: 'Import retrieved',
          data: {
            id: IMPORT_ID,
            status: 'completed',
            audience_id: AUDIENCE_ID,
            bytes: 104,
            rows_read: 3,
            created: 1,
            updated: 1,
            skipped: 0,
            failed: 1,
            errors: [{ row: 4, column: 'email', reason: 'is not a valid email address: "ada@"' }],
            errors_total: 1,
            error: null,
            created_at: '2026-01-05T10:00:00.000Z',
            started_at: '2026-01-05T10:00:00.120Z',
            finished_at: '2026-01-05T10:00:00.480Z',
            updated_at: '2026-01-05T10:00:00.480Z',
          },
        },
      ],
    }),
    ...errorResponses({ key: true, extra: [404] }),
  },
};

export { CSV_EXAMPLE };
