import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Tier } from '../../config/config.js';
import { decodeCursor, encodeCursor, parseLimit } from '../../platform/http/cursor.js';
import { emailVisibility, requireKey, type RouteAuth } from '../keys/auth-hook.js';
import { parseScheduleBody, parseSendBody } from './parse-body.js';
import type { SendingService } from './service.js';

const TIER_PATHS: Record<string, Tier> = { instant: 'instant', high: 'high', async: 'async', bulk: 'bulk', queue: 'async' };
/** Current, legacy (PHP ≤1.11.8, Rust 1.11.0) and root (Guzzle drops the base path) prefixes all serve the same routes. */
export const SEND_PREFIXES = ['/api/v1/send-email', '/api/v1/public/send-email', '/send-email'];
/** Base64 attachments up to the 40 MB message cap, plus JSON overhead. */
const SEND_BODY_LIMIT = 60 * 1024 * 1024;
// a domain-tied key may send (the sender rules keep it to its domain) but sees and cancels only its domain's emails
const send = { config: { auth: { key: 'regular', domainKey: 'all' } satisfies RouteAuth } };
const ownScheduled = { config: { auth: { key: 'regular', domainKey: 'own-domain' } satisfies RouteAuth } };

const idempotencyKeyOf = (request: FastifyRequest): { idempotencyKey?: string } => {
  const value = request.headers['idempotency-key'];
  return typeof value === 'string' ? { idempotencyKey: value } : {};
};

export function registerSendingRoutes(app: FastifyInstance, sending: SendingService): void {
  for (const prefix of SEND_PREFIXES) {
    for (const [segment, tier] of Object.entries(TIER_PATHS)) {
      app.post(`${prefix}/${segment}`, { ...send, bodyLimit: SEND_BODY_LIMIT }, async (request) =>
        sending.accept({ key: requireKey(request), tier, request: parseSendBody(request.body), ...idempotencyKeyOf(request) }),
      );
    }
    app.post(`${prefix}/schedule`, { ...send, bodyLimit: SEND_BODY_LIMIT }, async (request) =>
      sending.schedule({ key: requireKey(request), request: parseScheduleBody(request.body), ...idempotencyKeyOf(request) }),
    );
  }

  app.get('/api/v1/send-email/scheduled', ownScheduled, async (request) => {
    const q = request.query as Record<string, string | undefined>;
    const cursor = decodeCursor(q.cursor);
    const page = await sending.listScheduled(emailVisibility(requireKey(request)), parseLimit(q.limit, 50, 200), cursor);
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

  app.delete('/api/v1/send-email/schedule/:id', ownScheduled, async (request) => {
    const data = await sending.cancelScheduled(emailVisibility(requireKey(request)), (request.params as { id: string }).id);
    return { success: true, message: 'Scheduled email cancelled', data };
  });
}
