import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { encodeCursor } from '../../platform/http/cursor.js';
import { ApiError } from '../../platform/http/errors.js';
import { emailVisibility, requireKey, type RouteAuth } from '../keys/index.js';
import { getCaptured, listCaptured, type CapturedSummary } from './store.js';
import type { Db } from '../../platform/db/database.js';
import { getCapturedRawSchema, getCapturedSchema, listCapturedSchema } from './schemas.js';

/** captured messages are email content: the same rule as reading emails */
const readEmails = { config: { auth: { key: 'any', scope: 'emails:read', domainKey: 'own-domain' } satisfies RouteAuth } };

const view = (c: CapturedSummary) => ({
  id: c.id,
  email_id: c.message_id,
  envelope_from: c.envelope_from,
  envelope_to: c.envelope_to,
  subject: c.subject,
  size: c.size,
  captured_at: c.created_at.toISOString(),
});

/** Extension: what the capture transport kept, exactly as it would have gone out. */
export function registerCaptureRoutes(app: FastifyInstance, db: Db): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get('/api/v1/captured', { ...readEmails, schema: listCapturedSchema }, async (request) => {
    const q = request.query;
    const limit = q.limit;
    const before = q.cursor;
    const rows = await listCaptured(db, {
      ...emailVisibility(requireKey(request)),
      limit: limit + 1,
      ...(before ? { before } : {}),
      ...(q.email_id ? { messageId: q.email_id } : {}),
      ...(q.recipient ? { recipient: q.recipient } : {}),
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const next = rows.length > limit && last ? encodeCursor({ createdAt: last.created_at, id: last.id }) : null;
    return { success: true, message: 'Captured messages', data: { messages: page.map(view), next_cursor: next, has_more: next !== null } };
  });

  api.get('/api/v1/captured/:id', { ...readEmails, schema: getCapturedSchema }, async (request) => {
    const found = await getCaptured(db, emailVisibility(requireKey(request)), request.params.id);
    if (!found) throw new ApiError('NOT_FOUND', 'Captured message not found');
    return { success: true, message: 'Captured message', data: { ...view(found), raw: found.raw.toString('utf8') } };
  });

  api.get('/api/v1/captured/:id/raw', { ...readEmails, schema: getCapturedRawSchema }, async (request, reply: FastifyReply) => {
    const found = await getCaptured(db, emailVisibility(requireKey(request)), request.params.id);
    if (!found) throw new ApiError('NOT_FOUND', 'Captured message not found');
    return reply
      .type('message/rfc822')
      .header('Content-Disposition', `attachment; filename="${found.message_id}.eml"`)
      .send(found.raw);
  });
}
