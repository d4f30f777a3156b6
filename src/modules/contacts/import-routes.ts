import { Readable } from 'node:stream';
import busboy from 'busboy';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ContactImportRow } from '../../platform/db/schema.js';
import { ApiError } from '../../platform/http/errors.js';
import { requireKey, type RouteAuth } from '../keys/index.js';
import { getImportSchema, importContactsSchema } from './import-schemas.js';
import { MAX_REPORTED_ERRORS, type ContactImportService } from './imports.js';

const write = { config: { auth: { key: 'admin', scope: 'contacts:write' } satisfies RouteAuth } };
const read = { config: { auth: { key: 'admin', scope: 'contacts:read' } satisfies RouteAuth } };

/** The CSV types clients send (`application/vnd.ms-excel` is what browsers on Windows give a .csv file). */
const CSV_TYPES = ['text/csv', 'application/csv', 'application/vnd.ms-excel'];
const AUDIENCE_FIELDS = new Set(['audience_id', 'audienceId']);

/**
 * A multipart upload: the first file part is stored as it arrives (busboy streams it; nothing is buffered
 * whole); `audience_id` may come as a field before or after it. Every part count and size is bounded.
 */
function receiveMultipart(request: FastifyRequest, payload: Readable, store: (file: Readable) => Promise<number>): Promise<{ bytes: number; audienceId?: string }> {
  return new Promise((resolve, reject) => {
    let parts: busboy.Busboy;
    try {
      parts = busboy({ headers: request.headers, limits: { files: 1, fields: 10, parts: 20, fieldNameSize: 100, fieldSize: 200, headerPairs: 20 } });
    } catch (err) {
      reject(new ApiError('VALIDATION_ERROR', `Malformed multipart body: ${(err as Error).message}`));
      return;
    }
    let storing: Promise<number> | null = null;
    let audienceId: string | undefined;
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      payload.unpipe(parts);
      payload.resume(); // the rest is read and dropped, so the answer reaches the client
      reject(err instanceof ApiError ? err : new ApiError('VALIDATION_ERROR', `Malformed multipart body: ${(err as Error).message}`));
    };
    parts.on('file', (_name, file) => {
      if (storing) {
        file.resume();
        return;
      }
      storing = store(file);
      storing.catch((err: unknown) => {
        file.resume();
        fail(err);
      });
    });
    parts.on('field', (name, value) => {
      if (AUDIENCE_FIELDS.has(name) && value !== '') audienceId = value;
    });
    parts.on('error', fail);
    parts.on('close', () => {
      if (settled) return;
      if (!storing) return fail(new ApiError('VALIDATION_ERROR', 'The multipart body has no file: send the CSV file in a file field'));
      storing.then(
        (bytes) => {
          settled = true;
          resolve({ bytes, ...(audienceId !== undefined ? { audienceId } : {}) });
        },
        (err: unknown) => fail(err),
      );
    });
    payload.pipe(parts);
  });
}

/** The import's progress as GET …/imports/{id} answers it. */
export function importView(row: ContactImportRow) {
  return {
    id: row.id,
    status: row.status,
    audience_id: row.audience_id,
    bytes: Number(row.bytes),
    rows_read: row.rows_read,
    created: row.rows_created,
    updated: row.rows_updated,
    skipped: row.rows_skipped,
    failed: row.rows_failed,
    errors: row.errors.slice(0, MAX_REPORTED_ERRORS),
    errors_total: row.rows_failed,
    error: row.error,
    created_at: row.created_at.toISOString(),
    started_at: row.started_at?.toISOString() ?? null,
    finished_at: row.finished_at?.toISOString() ?? null,
    updated_at: row.updated_at.toISOString(),
  };
}

/**
 * `POST /api/v1/public/contacts/import` and `GET /api/v1/public/contacts/imports/:id` (extensions). The CSV and
 * multipart parsers exist only in this scope: they hand the handler the request stream, and every other
 * route keeps answering 415 to those types.
 */
export function registerContactImportRoutes(app: FastifyInstance, imports: ContactImportService, site: { readonly publicUrl: string }): void {
  void app.register(async (scope) => {
    scope.addContentTypeParser([...CSV_TYPES, 'multipart/form-data'], (_request, payload, done) => done(null, payload));
    const api = scope.withTypeProvider<ZodTypeProvider>();

    api.post('/api/v1/public/contacts/import', { ...write, schema: importContactsSchema }, async (request, reply) => {
      const workspaceId = requireKey(request).workspaceId;
      const body: unknown = request.body;
      if (!(body instanceof Readable)) {
        throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'Send the CSV file as the body with Content-Type: text/csv, or as a multipart/form-data upload');
      }
      const declared = Number(request.headers['content-length']);
      if (declared > imports.limits.maxBytes) throw new ApiError('PAYLOAD_TOO_LARGE', `The file is larger than the import limit of ${imports.limits.maxBytes} bytes (IMPORT_MAX_BYTES)`);
      const queryAudience = request.query.audience_id ?? request.query.audienceId;
      const id = await imports.begin(workspaceId, queryAudience);
      let row: ContactImportRow;
      try {
        const multipart = (request.headers['content-type'] ?? '').toLowerCase().startsWith('multipart/form-data');
        const received = multipart ? await receiveMultipart(request, body, (file) => imports.store(id, file)) : { bytes: await imports.store(id, body) };
        const audienceId = ('audienceId' in received ? received.audienceId : undefined) ?? queryAudience;
        row = await imports.submit(workspaceId, id, { ...(audienceId !== undefined ? { audienceId } : {}), enqueue: true });
      } catch (err) {
        await imports.discard(id);
        if (!body.readableEnded) body.resume(); // drop the rest, so the answer reaches the client
        throw err;
      }
      reply.status(202);
      return {
        success: true,
        message: 'Import queued',
        data: { id: row.id, status: row.status, audience_id: row.audience_id, bytes: Number(row.bytes), status_url: `${site.publicUrl}/api/v1/public/contacts/imports/${row.id}` },
      };
    });

    api.get('/api/v1/public/contacts/imports/:id', { ...read, schema: getImportSchema }, async (request) => {
      const row = await imports.get(requireKey(request).workspaceId, request.params.id);
      return { success: true, message: 'Import retrieved', data: importView(row) };
    });
  });
}
