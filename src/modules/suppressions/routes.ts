import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { notFound } from '../../platform/http/errors.js';
import { requireKey, type RouteAuth } from '../keys/index.js';
import { addSuppressionSchema, encodeSuppressionCursor, listSuppressionsSchema, removeSuppressionSchema } from './schemas.js';
import type { SuppressionService } from './service.js';
import type { SuppressionEntry } from './store.js';

const manage = { config: { auth: { key: 'admin', scope: 'suppressions:manage' } satisfies RouteAuth } };

const entryView = (e: SuppressionEntry) => ({ email: e.email, scope: e.scope, reason: e.reason, source_email_id: e.source_email_id, created_at: e.created_at.toISOString() });

/** `/api/v1/suppressions`: an extension (README, "Bounces and the suppression list"). */
export function registerSuppressionRoutes(app: FastifyInstance, suppressions: SuppressionService): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get('/api/v1/suppressions', { ...manage, schema: listSuppressionsSchema }, async (request) => {
    const { reason, email, limit, cursor } = request.query;
    // one more than the page: whether there is a next page without counting
    const rows = await suppressions.list({
      workspaceId: requireKey(request).workspaceId,
      limit: limit + 1,
      ...(reason ? { reason } : {}),
      ...(email ? { email: email.trim() } : {}),
      ...(cursor ? { after: cursor } : {}),
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const hasMore = rows.length > limit;
    const next = hasMore && last ? encodeSuppressionCursor({ createdAt: last.created_at, emailKey: last.email_key, scope: last.scope }) : null;
    return { success: true, message: 'Suppressions retrieved', data: { suppressions: page.map(entryView), next_cursor: next, has_more: hasMore } };
  });

  api.post('/api/v1/suppressions', { ...manage, schema: addSuppressionSchema }, async (request) => {
    const workspaceId = requireKey(request).workspaceId;
    const { email, scope = 'all' } = request.body;
    const added = await suppressions.add({ workspaceId, email, scope, reason: 'manual' });
    const listed = (await suppressions.find(workspaceId, email)).find((e) => e.scope === scope)!;
    return { success: true, message: added ? 'Address suppressed' : 'Address already suppressed', data: { ...entryView(listed), added } };
  });

  api.delete('/api/v1/suppressions/:email', { ...manage, schema: removeSuppressionSchema }, async (request) => {
    const email = request.params.email.trim();
    const removed = await suppressions.remove(requireKey(request).workspaceId, email);
    if (removed.length === 0) throw notFound('Suppressed address');
    return { success: true, message: 'Address reactivated', data: { email, removed: removed.map(entryView) } };
  });
}
