import type { FastifyInstance } from 'fastify';
import type { HostedPageService } from './service.js';
import { NOT_FOUND_PAGE, OWN_PAGE_POLICY, page, protect, VIEW_POLICY } from './page.js';
import { stripRefreshMeta } from './strip-refresh.js';
import { resubscribeSchema, unsubscribePageSchema, unsubscribeSchema, viewInBrowserSchema } from './schemas.js';

const UNSUBSCRIBE_RECEIVED =
  '<h1>Request received</h1><p>Your request to unsubscribe was recorded and passed on to the sender of this email.</p>';
const RESUBSCRIBED = '<h1>Subscribed again</h1><p>You will receive these emails again.</p>';
const NOTHING_TO_UNDO = '<h1>Nothing to undo</h1><p>This address was not unsubscribed by this link, so nothing changed.</p>';

/** The page after an unsubscribe that took effect, with the signed button that takes it back (relative: /u/{token} → /u/resubscribe/{token}, behind any path prefix). */
function unsubscribedPage(kind: 'suppressed' | 'left-audience', resubscribeToken: string): string {
  const what = kind === 'left-audience' ? 'You will not receive emails sent to this list any more.' : 'You will not receive bulk emails from this sender any more.';
  return page(
    'Unsubscribed',
    `<h1>You are unsubscribed</h1><p>${what}</p>` +
      `<form method="post" action="resubscribe/${encodeURIComponent(resubscribeToken)}"><p>Unsubscribed by mistake?</p><button type="submit">Subscribe again</button></form>`,
  );
}

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
    if (!(await pages.isUnsubscribeLink(token))) return reply.status(404).type('text/html; charset=utf-8').send(NOT_FOUND_PAGE);
    return reply
      .type('text/html; charset=utf-8')
      .send(page('Unsubscribe', `<h1>Unsubscribe</h1><p>Stop receiving these emails?</p><form method="post"><button type="submit">Unsubscribe</button></form>`));
  });

  // RFC 8058 one-click: mail clients POST a form here without a person in the loop. Form bodies are
  // accepted only in this scope; the JSON API keeps answering 415 to them.
  void app.register(async (scope) => {
    scope.addContentTypeParser(['application/x-www-form-urlencoded', 'multipart/form-data'], { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => done(null, body));
    scope.post('/u/:token', { schema: unsubscribeSchema }, async (request, reply) => {
      // a mail client's one-click sends this exact form body (RFC 8058 §3.2); the page's button sends none
      const oneClick = typeof request.body === 'string' && new URLSearchParams(request.body).get('List-Unsubscribe') === 'One-Click';
      const result = await pages.unsubscribe((request.params as { token: string }).token, oneClick ? 'one-click' : 'hosted page');
      protect(reply, OWN_PAGE_POLICY);
      if (result.kind === 'not-found') return reply.status(404).type('text/html; charset=utf-8').send(NOT_FOUND_PAGE);
      // an email to several people whose link names none of them: the sender reads the request on the timeline
      if (result.kind === 'recorded') return reply.type('text/html; charset=utf-8').send(page('Request received', UNSUBSCRIBE_RECEIVED));
      return reply.type('text/html; charset=utf-8').send(unsubscribedPage(result.kind, result.resubscribeToken));
    });

    scope.post('/u/resubscribe/:token', { schema: resubscribeSchema }, async (request, reply) => {
      const result = await pages.resubscribe((request.params as { token: string }).token);
      protect(reply, OWN_PAGE_POLICY);
      if (result.kind === 'not-found') return reply.status(404).type('text/html; charset=utf-8').send(NOT_FOUND_PAGE);
      return reply.type('text/html; charset=utf-8').send(result.kind === 'resubscribed' ? page('Subscribed again', RESUBSCRIBED) : page('Nothing to undo', NOTHING_TO_UNDO));
    });
  });
}
