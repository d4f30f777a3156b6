import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Tier } from '../../platform/lifecycle.js';
import { encodeCursor } from '../../platform/http/cursor.js';
import { emailVisibility, requireKey, type RouteAuth } from '../keys/index.js';
import type { SendingService } from './service.js';
import { cancelScheduledSchema, listScheduledSchema, scheduleSchema, sendSchema } from './schemas.js';

const TIER_PATHS: Record<string, Tier> = { instant: 'instant', high: 'high', async: 'async', bulk: 'bulk', queue: 'async' };
/** Current, legacy (PHP ≤1.11.8, Rust 1.11.0) and root (Guzzle drops the base path) prefixes all serve the same routes. */
export const SEND_PREFIXES = ['/api/v1/send-email', '/api/v1/public/send-email', '/send-email'];
/** Base64 attachments up to the 40 MB message cap, plus JSON overhead. */
const SEND_BODY_LIMIT = 60 * 1024 * 1024;
// a domain-tied key may send (the sender rules keep it to its domain) but sees and cancels only its domain's emails
const send = { config: { auth: { key: 'regular', domainKey: 'all' } satisfies RouteAuth } };
const ownScheduled = { config: { auth: { key: 'regular', domainKey: 'own-domain' } satisfies RouteAuth } };

const idempotencyKeyOf = (headers: { 'idempotency-key'?: string | undefined }): { idempotencyKey?: string } => {
  const value = headers['idempotency-key'];
  return typeof value === 'string' ? { idempotencyKey: value } : {};
};

/** How the reference presents a path: the current one, a Keplars alias, or one of ours. */
const aliasFor = (prefix: string, segment: string) => {
  if (prefix === SEND_PREFIXES[0]) return segment === 'queue' ? { of: `${SEND_PREFIXES[0]}/async`, extension: false } : null;
  // the spec lists the legacy prefix for the five tiers and schedule, the root one for all six
  const extension = prefix === '/api/v1/public/send-email' && segment === 'queue';
  return { of: `${SEND_PREFIXES[0]}/${segment === 'queue' ? 'async' : segment}`, extension };
};

export function registerSendingRoutes(app: FastifyInstance, sending: SendingService): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  for (const prefix of SEND_PREFIXES) {
    for (const [segment, tier] of Object.entries(TIER_PATHS)) {
      api.post(`${prefix}/${segment}`, { ...send, bodyLimit: SEND_BODY_LIMIT, schema: sendSchema(segment, tier, aliasFor(prefix, segment)) }, async (request) =>
        sending.accept({ key: requireKey(request), tier, request: request.body, ...idempotencyKeyOf(request.headers) }),
      );
    }
    api.post(`${prefix}/schedule`, { ...send, bodyLimit: SEND_BODY_LIMIT, schema: scheduleSchema(aliasFor(prefix, 'schedule')) }, async (request) =>
      sending.schedule({ key: requireKey(request), request: request.body, ...idempotencyKeyOf(request.headers) }),
    );
  }

  api.get('/api/v1/send-email/scheduled', { ...ownScheduled, schema: listScheduledSchema }, async (request) => {
    const { limit, cursor } = request.query;
    const page = await sending.listScheduled(emailVisibility(requireKey(request)), limit, cursor);
    const emails = page.emails.map((e) => ({
      id: e.id,
      object: 'scheduled_email',
      status: 'scheduled',
      priority: e.tier,
      from: e.from_email,
      subject: e.subject,
      scheduled_at: e.scheduled_at?.toISOString() ?? null,
      timezone: e.timezone,
      recipients_count: e.recipients_count,
      created_at: e.created_at.toISOString(),
    }));
    const next = page.hasMore && page.last ? encodeCursor(page.last) : null;
    return { success: true, message: 'Scheduled emails retrieved', data: { scheduled_emails: emails, next_cursor: next, has_more: page.hasMore } };
  });

  api.delete('/api/v1/send-email/schedule/:id', { ...ownScheduled, schema: cancelScheduledSchema }, async (request) => {
    const data = await sending.cancelScheduled(emailVisibility(requireKey(request)), request.params.id);
    return { success: true, message: 'Scheduled email cancelled', data };
  });
}
