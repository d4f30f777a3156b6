import type { FastifyInstance, FastifyReply } from 'fastify';
import type { HostedPageService } from './service.js';
import { stripRefreshMeta } from './strip-refresh.js';
import { unsubscribePageSchema, unsubscribeSchema, viewInBrowserSchema } from './schemas.js';

const page = (title: string, body: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title></head>` +
  `<body style="font-family:system-ui,sans-serif;max-width:560px;margin:48px auto;padding:0 16px;color:#111827">${body}</body></html>`;

/**
 * Tenant HTML on our origin: sandboxed (no script, forms, popups or top navigation, an opaque origin), nothing
 * loaded but images, styles and fonts over https or data, no framing, no base URL, no referrer.
 */
const VIEW_POLICY = [
  'sandbox',
  "default-src 'none'",
  'img-src https: data:',
  "style-src 'unsafe-inline' https:",
  'font-src https: data:',
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const UNSUBSCRIBE_RECEIVED =
  '<h1>Request received</h1><p>Your request to unsubscribe was recorded and passed on to the sender of this email.</p>';

/** Our own pages: the unsubscribe form posts to itself; nothing else runs or loads. */
const OWN_PAGE_POLICY = ["default-src 'none'", "style-src 'unsafe-inline'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"].join('; ');

function protect(reply: FastifyReply, policy: string): FastifyReply {
  return reply
    .header('Content-Security-Policy', policy)
    .header('X-Content-Type-Options', 'nosniff')
    .header('Referrer-Policy', 'no-referrer')
    .header('X-Frame-Options', 'DENY');
}

/**
 * Pages behind `{{viewInBrowserUrl}}` and `{{unsubscribeUrl}}` (decisions §15). Tokens are signed per email
 * and purpose; an invalid one is a plain 404 page.
 */
export function registerHostedRoutes(app: FastifyInstance, pages: HostedPageService): void {
  const notFound = page('Not found', '<h1>Link not valid</h1><p>This link is not valid or has expired.</p>');

  app.get('/v/:token', { schema: viewInBrowserSchema }, async (request, reply) => {
    const email = await pages.viewable((request.params as { token: string }).token);
    if (!email) return protect(reply, OWN_PAGE_POLICY).status(404).type('text/html; charset=utf-8').send(notFound);
    protect(reply, VIEW_POLICY);
    if (email.html) return reply.type('text/html; charset=utf-8').send(stripRefreshMeta(email.html));
    return reply.type('text/plain; charset=utf-8').send(email.text_body ?? '');
  });

  app.get('/u/:token', { schema: unsubscribePageSchema }, async (request, reply) => {
    const token = (request.params as { token: string }).token;
    protect(reply, OWN_PAGE_POLICY);
    if (!pages.isUnsubscribeLink(token)) return reply.status(404).type('text/html; charset=utf-8').send(notFound);
    return reply
      .type('text/html; charset=utf-8')
      .send(page('Unsubscribe', `<h1>Unsubscribe</h1><p>Stop receiving these emails?</p><form method="post"><button type="submit">Unsubscribe</button></form>`));
  });

  // RFC 8058 one-click: mail clients POST a form here without a person in the loop. Form bodies are
  // accepted only in this scope; the JSON API keeps answering 415 to them.
  void app.register(async (scope) => {
    scope.addContentTypeParser(['application/x-www-form-urlencoded', 'multipart/form-data'], { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => done(null, body));
    scope.post('/u/:token', { schema: unsubscribeSchema }, async (request, reply) => {
      const recorded = await pages.unsubscribe((request.params as { token: string }).token);
      protect(reply, OWN_PAGE_POLICY);
      if (!recorded) return reply.status(404).type('text/html; charset=utf-8').send(notFound);
      // There is no suppression list yet: the request is an event on the email's timeline for the sender to act on.
      return reply.type('text/html; charset=utf-8').send(page('Request received', UNSUBSCRIBE_RECEIVED));
    });
  });
}
