import type { FastifyInstance, FastifyReply } from 'fastify';
import { ApiError } from '../../platform/http/errors.js';
import { RateLimiter } from '../../platform/http/rate-limiter.js';
import { escapeHtml } from '../../platform/html-escape.js';
import { NOT_FOUND_PAGE, OWN_PAGE_POLICY, page, protect } from './page.js';
import { confirmPageSchema, confirmSchema, subscribePageSchema, subscribeSchema } from './schemas.js';
import { CONFIRM_LINK_DAYS, MAX_NAME_LENGTH, type SubscribeForm, type SubscribePageService } from './subscribe.js';

/** A form of three short fields fits many times over; anything larger is not from our page. */
const FORM_BODY_LIMIT = 4096;
const FORM_FIELDS = ['email', 'name', 'website'] as const;

/** Hidden from people (off screen) and from assistive technology (aria-hidden), skipped by the keyboard (tabindex). */
const FORM_STYLE =
  'label{display:block;margin:16px 0 4px;font-weight:600}input{font:inherit;padding:8px;width:100%;box-sizing:border-box}' +
  'button{font:inherit;margin-top:20px;padding:10px 18px}.error{color:#b91c1c}.hp{position:absolute;left:-10000px;top:auto;width:1px;height:1px;overflow:hidden}';

const NO_SENDER =
  '<p>This form cannot take subscriptions right now: it confirms each address by email, and this server has no sender address configured for that. ' +
  'Nothing was recorded. Please try again later.</p>';

function formPage(audienceName: string, o: { form?: SubscribeForm; error?: string; noSender?: boolean } = {}): string {
  const heading = `<h1>Subscribe to ${escapeHtml(audienceName)}</h1>`;
  if (o.noSender) return page(`Subscribe to ${audienceName}`, `${heading}${NO_SENDER}`, FORM_STYLE);
  const error = o.error ? `<p class="error" id="form-error" role="alert">${escapeHtml(o.error)}</p>` : '';
  const invalid = o.error ? ' aria-invalid="true" aria-describedby="form-error"' : '';
  const body =
    heading +
    error +
    '<form method="post">' +
    `<label for="email">Email address</label><input id="email" name="email" type="email" required autocomplete="email" maxlength="254" value="${escapeHtml(o.form?.email ?? '')}"${invalid}>` +
    `<label for="name">Name (optional)</label><input id="name" name="name" type="text" autocomplete="name" maxlength="${MAX_NAME_LENGTH}" value="${escapeHtml(o.form?.name ?? '')}">` +
    '<div class="hp" aria-hidden="true"><label for="website">Leave this field empty</label><input id="website" name="website" type="text" tabindex="-1" autocomplete="off"></div>' +
    '<button type="submit">Subscribe</button></form>';
  return page(`Subscribe to ${audienceName}`, body, FORM_STYLE);
}

function thanksPage(audienceName: string, doubleOptIn: boolean): string {
  const name = escapeHtml(audienceName);
  // the same words whatever the address's state, so the page tells a stranger nothing about it
  const body = doubleOptIn
    ? `<h1>Check your inbox</h1><p>If this address is not subscribed to ${name} yet, we are sending it an email with a link to confirm. The link works for ${CONFIRM_LINK_DAYS} days.</p>`
    : `<h1>Thank you</h1><p>Your request to subscribe to ${name} was received.</p>`;
  return page('Thank you', body);
}

const html = (reply: FastifyReply, status: number, body: string) => protect(reply, OWN_PAGE_POLICY).status(status).type('text/html; charset=utf-8').send(body);

/** The first value of each field the form has; the rest of the body is ignored. Bounded by FORM_BODY_LIMIT. */
function readForm(body: string): Record<string, string> {
  const params = new URLSearchParams(body);
  const out: Record<string, string> = {};
  for (const field of FORM_FIELDS) {
    const value = params.get(field);
    if (value !== null) out[field] = value;
  }
  return out;
}

/**
 * The hosted subscribe form (`/s/{token}`, decisions §15) and the double opt-in confirmation (`/s/confirm/{token}`).
 * Form bodies are accepted in this scope only; the rest of the API keeps answering 415 to them.
 */
export function registerSubscribeRoutes(app: FastifyInstance, subscribe: SubscribePageService, opts: { postsPerMinute: number }): void {
  // per client address (request.ip follows TRUST_PROXY) and per process, like the API's own limits
  const limiter = new RateLimiter(60_000);

  app.get('/s/:token', { schema: subscribePageSchema }, async (request, reply) => {
    const audience = await subscribe.audience((request.params as { token: string }).token);
    if (!audience) return html(reply, 404, NOT_FOUND_PAGE);
    if (audience.doubleOptIn && !subscribe.canSendConfirmations) return html(reply, 503, formPage(audience.name, { noSender: true }));
    return html(reply, 200, formPage(audience.name));
  });

  app.get('/s/confirm/:token', { schema: confirmPageSchema }, async (request, reply) => {
    const link = await subscribe.confirmPage((request.params as { token: string }).token);
    if (link.kind !== 'page') return html(reply, 404, NOT_FOUND_PAGE);
    return html(
      reply,
      200,
      page('Confirm your subscription', `<h1>Confirm your subscription</h1><p>Subscribe to ${escapeHtml(link.audienceName)}?</p><form method="post"><button type="submit">Confirm subscription</button></form>`),
    );
  });

  void app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT }, (_req, body, done) => done(null, readForm(body as string)));
    // a JSON body is not what the page sends; refusing it keeps this a form, not a second API
    const formOnly = async (request: { headers: Record<string, string | string[] | undefined>; body: unknown }) => {
      const type = String(request.headers['content-type'] ?? '');
      if (request.body !== undefined && !/^application\/x-www-form-urlencoded\b/i.test(type)) {
        throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/x-www-form-urlencoded');
      }
    };

    scope.post('/s/:token', { schema: subscribeSchema, bodyLimit: FORM_BODY_LIMIT, preValidation: formOnly }, async (request, reply) => {
      const decision = limiter.check(`ip:${request.ip}`, opts.postsPerMinute);
      if (!decision.allowed) {
        reply.header('Retry-After', String(decision.retryAfterSeconds));
        return html(reply, 429, page('Too many requests', '<h1>Too many requests</h1><p>This form was sent too often from your network. Please try again in a minute.</p>'));
      }
      const fields = (request.body ?? {}) as Partial<SubscribeForm>;
      const form: SubscribeForm = { email: fields.email ?? '', name: fields.name ?? '', website: fields.website ?? '' };
      const result = await subscribe.subscribe((request.params as { token: string }).token, form);
      switch (result.kind) {
        case 'not-found':
          return html(reply, 404, NOT_FOUND_PAGE);
        case 'invalid':
          return html(reply, 400, formPage(result.audienceName, { form: result.form, error: result.message }));
        case 'no-sender':
          request.log.warn({ audience: result.audienceName }, 'a subscribe form with double opt-in was sent, but no confirmation can go out: set DEFAULT_FROM to an address this server may send from');
          return html(reply, 503, formPage(result.audienceName, { noSender: true }));
        case 'thanks':
          return html(reply, 200, thanksPage(result.audienceName, result.doubleOptIn));
      }
    });

    scope.post('/s/confirm/:token', { schema: confirmSchema, bodyLimit: FORM_BODY_LIMIT }, async (request, reply) => {
      const result = await subscribe.confirm((request.params as { token: string }).token);
      if (result.kind !== 'confirmed' && result.kind !== 'already') return html(reply, 404, NOT_FOUND_PAGE);
      return html(reply, 200, page('Subscription confirmed', `<h1>Subscription confirmed</h1><p>You are subscribed to ${escapeHtml(result.audienceName)}.</p>`));
    });
  });
}
