import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { encodeCursor } from '../../platform/http/cursor.js';
import { emailVisibility, requireKey, type RouteAuth } from '../keys/index.js';
import type { EmailService } from './service.js';
import { getEmailByPath, getEmailByQuery, listEmailsSchema } from './schemas.js';

const readEmails = { config: { auth: { key: 'any', scope: 'emails:read', domainKey: 'own-domain' } satisfies RouteAuth } };

export function registerEmailRoutes(app: FastifyInstance, emails: EmailService): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get('/api/v1/public/emails/get-email', { ...readEmails, schema: getEmailByQuery }, async (request) => {
    const email = await emails.get(emailVisibility(requireKey(request)), request.query.id);
    return { success: true, message: 'Email retrieved', data: email, ...email };
  });

  api.get('/api/v1/emails/:id', { ...readEmails, schema: getEmailByPath }, async (request) => {
    const email = await emails.get(emailVisibility(requireKey(request)), request.params.id);
    return { success: true, message: 'Email retrieved', data: email };
  });

  api.get('/api/v1/emails', { ...readEmails, schema: listEmailsSchema }, async (request) => {
    const { status, recipient, since, until, limit, cursor } = request.query;
    const page = await emails.list({
      ...emailVisibility(requireKey(request)),
      limit,
      ...(status ? { statuses: status } : {}),
      ...(recipient ? { recipient } : {}),
      ...(since ? { since } : {}),
      ...(until ? { until } : {}),
      ...(cursor ? { cursor } : {}),
    });
    const next = page.hasMore && page.last ? encodeCursor(page.last) : null;
    return { success: true, message: 'Emails retrieved', data: { emails: page.emails, next_cursor: next, has_more: page.hasMore } };
  });
}
