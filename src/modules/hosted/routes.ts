import type { FastifyInstance } from 'fastify';
import type { HostedPageService } from './service.js';
import { NOT_FOUND_PAGE, OWN_PAGE_POLICY, page, protect, VIEW_POLICY } from './page.js';
import { stripRefreshMeta } from './strip-refresh.js';
import { unsubscribePageSchema, unsubscribeSchema, viewInBrowserSchema } from './schemas.js';

const UNSUBSCRIBE_RECEIVED =
  '<h1>Request received</h1><p>Your request to unsubscribe was recorded and passed on to the sender of this email.</p>';

/**
 * Pages behind `{{viewInBrowserUrl}}` and `{{unsubscribeUrl}}` (decisions §15). Tokens are signed per email
 * and purpose; an invalid one is a plain 404 page.
 */
export function registerHostedRoutes(app: FastifyInstance, pages: HostedPageService): void {
  app.get('/v/:token', { schema: viewInBrowserSchema }, async (request, reply) => {
    const email = await pages.viewable((request.params as { token: string }).token);
    if (!email) return protect(reply, OWN_PAGE_POLICY).status(404).type('text/html; charset=utf-8').send(NOT_FOUND_PAGE);
    protect(reply, VIEW_POLICY);
    if (email.html) return reply.type('text/html; charset=utf-8').send(stripRefreshMeta(email.html));
    return reply.type('text/plain; charset=utf-8').send(email.text_body ?? '');
  });

  app.get('/u/:token', { schema: unsubscribePageSchema }, async (request, reply) => {
    const token = (request.params as { token: string }).token;
    protect(reply, OWN_PAGE_POLICY);
    if (!pages.isUnsubscribeLink(token)) return reply.status(404).type('text/html; charset=utf-8').send(NOT_FOUND_PAGE);
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
      if (!recorded) return reply.status(404).type('text/html; charset=utf-8').send(NOT_FOUND_PAGE);
      // There is no suppression list yet: the request is an event on the email's timeline for the sender to act on.
      return reply.type('text/html; charset=utf-8').send(page('Request received', UNSUBSCRIBE_RECEIVED));
    });
  });
}
