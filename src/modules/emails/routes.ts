import type { FastifyInstance } from 'fastify';
import { decodeCursor, encodeCursor, parseLimit, parseTime } from '../../platform/http/cursor.js';
import { ApiError } from '../../platform/http/errors.js';
import { emailVisibility, requireKey, type RouteAuth } from '../keys/index.js';
import { EMAIL_STATUSES, type EmailService } from './service.js';

type Query = Record<string, string | undefined>;
const readEmails = { config: { auth: { key: 'any', scope: 'emails:read', domainKey: 'own-domain' } satisfies RouteAuth } };

export function registerEmailRoutes(app: FastifyInstance, emails: EmailService): void {
  app.get('/api/v1/public/emails/get-email', readEmails, async (request) => {
    const q = request.query as Query;
    const id = q.id ?? q.email_id ?? q.emailId;
    if (!id) throw new ApiError('VALIDATION_ERROR', "Query parameter 'id' is required");
    const email = await emails.get(emailVisibility(requireKey(request)), id);
    return { success: true, message: 'Email retrieved', data: email, ...email };
  });

  app.get('/api/v1/emails/:id', readEmails, async (request) => {
    const email = await emails.get(emailVisibility(requireKey(request)), (request.params as { id: string }).id);
    return { success: true, message: 'Email retrieved', data: email };
  });

  app.get('/api/v1/emails', readEmails, async (request) => {
    const q = request.query as Query;
    const statuses = q.status?.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    const unknown = statuses?.filter((s) => !(EMAIL_STATUSES as readonly string[]).includes(s)) ?? [];
    if (unknown.length > 0) throw new ApiError('VALIDATION_ERROR', `Unknown status '${unknown[0]}'; use one of ${EMAIL_STATUSES.join(', ')}`);
    const since = parseTime(q.since ?? q.from, 'since');
    const until = parseTime(q.until ?? q.to, 'until');
    const limit = parseLimit(q.limit, 50, 200);
    const cursor = decodeCursor(q.cursor);
    const page = await emails.list({
      ...emailVisibility(requireKey(request)),
      limit,
      ...(statuses?.length ? { statuses } : {}),
      ...(q.recipient ? { recipient: q.recipient } : {}),
      ...(since ? { since } : {}),
      ...(until ? { until } : {}),
      ...(cursor ? { cursor } : {}),
    });
    const next = page.hasMore && page.last ? encodeCursor(page.last) : null;
    return { success: true, message: 'Emails retrieved', data: { emails: page.emails, next_cursor: next, has_more: page.hasMore } };
  });
}
