import type { FastifyInstance, FastifyRequest } from 'fastify';
import { escapeHtml } from '../../platform/html-escape.js';
import { NOT_FOUND_PAGE, OWN_PAGE_POLICY, page, protect } from '../hosted/index.js';
import { clickRedirectSchema, openPixelSchema } from './schemas.js';
import type { TrackingRequest, TrackingService } from './service.js';

/** A 1×1 transparent GIF. */
export const PIXEL_GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

const NO_CACHE = 'no-store, no-cache, must-revalidate, max-age=0';

const trackingRequest = (request: FastifyRequest): TrackingRequest => ({ method: request.method, userAgent: request.headers['user-agent'] });

/**
 * The tracking routes (decisions §10 and §15; README, "Tracking"). They take no key and are exempt from the
 * per-client rate limit (`unthrottled`): the readers of a company's mail, or everyone behind a mail provider's
 * image proxy, share a few addresses, and a limit would drop their opens and, worse, their clicks. What an
 * abuser can make them write is bounded per email instead (store.ts).
 */
export function registerTrackingRoutes(app: FastifyInstance, tracking: TrackingService): void {
  app.get('/t/o/:token', { schema: openPixelSchema, config: { unthrottled: true } }, async (request, reply) => {
    await tracking.open((request.params as { token: string }).token, trackingRequest(request));
    // the same image for every token, valid or not: the answer tells nothing about the token
    return reply
      .header('Cache-Control', NO_CACHE)
      .header('Pragma', 'no-cache')
      .header('Expires', '0')
      .header('X-Content-Type-Options', 'nosniff')
      .type('image/gif')
      .send(PIXEL_GIF);
  });

  app.get('/t/c/:token', { schema: clickRedirectSchema, config: { unthrottled: true } }, async (request, reply) => {
    const url = await tracking.click((request.params as { token: string }).token, trackingRequest(request));
    protect(reply, OWN_PAGE_POLICY).header('Cache-Control', NO_CACHE);
    if (url === null) return reply.status(404).type('text/html; charset=utf-8').send(NOT_FOUND_PAGE);
    // the URL was parsed and serialised when the email was accepted (scan.ts): ASCII only, safe in a header
    const link = escapeHtml(url);
    return reply
      .status(302)
      .header('Location', url)
      .type('text/html; charset=utf-8')
      .send(page('Redirecting', `<p>Redirecting to <a href="${link}">${link}</a></p>`));
  });
}
