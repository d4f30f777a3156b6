import { z } from 'zod';
import { errorEnvelope, errorResponses, operation } from '../../platform/http/schemas.js';

const TOKEN = 'eyJpZCI6IjAxOWE4M2RlIn0.c2lnbmF0dXJl';
const tokenParams = (purpose: string) => z.object({ token: z.string().meta({ description: `The signed ${purpose} token from the email's link`, examples: [TOKEN] }) });
const html = (example: string) => z.string().meta({ examples: [example] });
const NOT_FOUND_PAGE = '<!doctype html><html><head><title>Not found</title></head><body><h1>Link not valid</h1></body></html>';
const notFound = { description: 'The link is not valid or has expired (an HTML page)', content: { 'text/html': { schema: html(NOT_FOUND_PAGE) } } };

export const viewInBrowserSchema = {
  ...operation({
    summary: 'View an email in the browser',
    description: 'The page behind `{{viewInBrowserUrl}}`: the email\'s HTML (or its text), sandboxed: no script, forms or framing run or load.',
    tag: 'Hosted pages',
  }),
  params: tokenParams('view'),
  response: {
    200: {
      description: "The email's HTML, or its plain text when it has no HTML",
      content: { 'text/html': { schema: html('<p>Hello Ada</p>') }, 'text/plain': { schema: z.string() } },
    },
    404: notFound,
    ...errorResponses({ key: false }),
  },
};

export const unsubscribePageSchema = {
  ...operation({ summary: 'Unsubscribe page', description: 'The page behind `{{unsubscribeUrl}}`: asks the person to confirm; the form posts to the same address.', tag: 'Hosted pages' }),
  params: tokenParams('unsubscribe'),
  response: {
    200: { description: 'The confirmation page', content: { 'text/html': { schema: html('<!doctype html><html><body><h1>Unsubscribe</h1><form method="post"><button type="submit">Unsubscribe</button></form></body></html>') } } },
    404: notFound,
    ...errorResponses({ key: false }),
  },
};

export const unsubscribeSchema = {
  ...operation({
    summary: 'Unsubscribe (one-click)',
    description:
      'RFC 8058 one-click unsubscribe, posted by mail clients (form body `List-Unsubscribe=One-Click`) or by the page\'s form (a form body is accepted here only). ' +
      'The recipient the link names leaves the audience the email went to, or else its address is suppressed for the workspace\'s `bulk` tier: later bulk sends to it are not attempted (recipient status `suppressed`). ' +
      'An `unsubscribed` event goes on the email\'s timeline; repeating the request changes nothing. A link of an email to several recipients names none of them: the request is only recorded on the timeline.',
    tag: 'Hosted pages',
  }),
  params: tokenParams('unsubscribe'),
  response: {
    200: {
      description: 'Unsubscribed (a page with a button to subscribe again), or, for an email to several recipients, the request was recorded',
      content: { 'text/html': { schema: html('<!doctype html><html><body><h1>You are unsubscribed</h1><form method="post" action="/u/resubscribe/…"><button type="submit">Subscribe again</button></form></body></html>') } },
    },
    404: notFound,
    ...errorResponses({ key: false, extra: [413, 415] }),
  },
};

export const resubscribeSchema = {
  ...operation({
    summary: 'Subscribe again after an unsubscribe',
    description:
      'The button on the "you are unsubscribed" page (its token is signed for this purpose only; an unsubscribe link does not work here). ' +
      'Lifts the unsubscribe the link made (never a suppression for another reason, such as a bounce) or rejoins the audience, and records `resubscribed` on the email\'s timeline.',
    tag: 'Hosted pages',
  }),
  params: z.object({ token: z.string().meta({ description: 'The signed resubscribe token from the unsubscribed page\'s form', examples: [TOKEN] }) }),
  response: {
    200: { description: 'Subscribed again, or nothing was left to undo', content: { 'text/html': { schema: html('<!doctype html><html><body><h1>Subscribed again</h1></body></html>') } } },
    404: notFound,
    ...errorResponses({ key: false, extra: [413, 415] }),
  },
};

const SUBSCRIBE_TOKEN = 'MDE5YTgzZGUtNmYyZS03MDAwLThhMTEtNGE2YjFlZTJjMzRkLzAxOWE4M2RlLTZmMmUtNzAwMC04YTExLTRhNmIxZWUyYzM0ZQ.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl';
const subscribeParams = z.object({ token: z.string().meta({ description: "The signed token of the audience's `subscribe_url`", examples: [SUBSCRIBE_TOKEN] }) });
const confirmParams = z.object({ token: z.string().meta({ description: 'The signed token from the confirmation email\'s link (it names the audience and the contact, and expires after 7 days)', examples: [SUBSCRIBE_TOKEN] }) });
const FORM_PAGE =
  '<!doctype html><html lang="en"><body><h1>Subscribe to Newsletter</h1><form method="post"><label for="email">Email address</label><input id="email" name="email" type="email" required><button type="submit">Subscribe</button></form></body></html>';
/** The page's own answers are HTML; the server's general ones (a malformed body, its global rate limit, draining) the JSON envelope. */
const orEnvelope = (description: string, example: string) => ({ description, content: { 'text/html': { schema: html(example) }, 'application/json': { schema: errorEnvelope } } });
const tooMany = orEnvelope('Too many submissions from this client address: an HTML page with Retry-After', '<!doctype html><html lang="en"><body><h1>Too many requests</h1></body></html>');
const noSender = orEnvelope(
  'The audience asks for double opt-in and the server has no sender for the confirmation email (DEFAULT_FROM is not set): an HTML page; nothing was recorded',
  '<!doctype html><html lang="en"><body><h1>Subscriptions are paused</h1></body></html>',
);

export const subscribePageSchema = {
  ...operation({
    summary: 'Subscribe form',
    description: "The page behind an audience's `subscribe_url` (decisions §15): a form for an email address and an optional name; it posts to the same address. No script runs on it.",
    tag: 'Hosted pages',
  }),
  params: subscribeParams,
  response: {
    ...errorResponses({ key: false }),
    200: { description: 'The form', content: { 'text/html': { schema: html(FORM_PAGE) } } },
    404: notFound,
    503: noSender,
  },
};

export const subscribeSchema = {
  ...operation({
    summary: 'Subscribe (the form posts here)',
    description:
      'Subscribes the address to the audience, or with double opt-in mails it a confirmation link (the membership is `pending` until the click). ' +
      'The answer is the same whatever the address\'s state, so the form tells nothing about it; a blocked contact stays blocked. ' +
      '`website` is a honeypot people never see: a submission with it filled records nothing. At most SUBSCRIBE_FORM_POSTS_PER_MINUTE submissions per client address per minute (429).',
    tag: 'Hosted pages',
  }),
  consumes: ['application/x-www-form-urlencoded'],
  params: subscribeParams,
  body: z
    .object({
      email: z.string().optional().meta({ description: 'The address to subscribe', examples: ['ada@example.org'] }),
      name: z.string().optional().meta({ description: 'Optional: the first word is stored as the first name, the rest as the last name (on a contact the form creates)', examples: ['Ada Lovelace'] }),
      website: z.string().optional().meta({ description: 'The honeypot: leave it empty' }),
    })
    .meta({ examples: [{ email: 'ada@example.org', name: 'Ada Lovelace' }] }),
  response: {
    ...errorResponses({ key: false, extra: [413, 415] }),
    200: { description: 'The thanks page', content: { 'text/html': { schema: html('<!doctype html><html lang="en"><body><h1>Thank you</h1></body></html>') } } },
    400: orEnvelope('The form again with what to correct (an HTML page), or a body that is not a form', FORM_PAGE),
    404: notFound,
    429: tooMany,
    503: noSender,
  },
};

export const confirmPageSchema = {
  ...operation({
    summary: 'Confirm a subscription (page)',
    description: 'The page behind the link of a double opt-in email: a button that posts to the same address. Opening the link confirms nothing, so mail scanners that fetch links do not subscribe anyone.',
    tag: 'Hosted pages',
  }),
  params: confirmParams,
  response: {
    200: { description: 'The page with the confirm button', content: { 'text/html': { schema: html('<!doctype html><html lang="en"><body><h1>Confirm your subscription</h1><form method="post"><button type="submit">Confirm</button></form></body></html>') } } },
    404: notFound,
    ...errorResponses({ key: false }),
  },
};

export const confirmSchema = {
  ...operation({
    summary: 'Confirm a subscription',
    description: 'The confirm button of the double opt-in page: the pending membership becomes `subscribed` (and `contact.subscribed` is recorded). Repeating it changes nothing.',
    tag: 'Hosted pages',
  }),
  params: confirmParams,
  response: {
    200: { description: 'The subscription is confirmed', content: { 'text/html': { schema: html('<!doctype html><html lang="en"><body><h1>Subscription confirmed</h1></body></html>') } } },
    404: notFound,
    ...errorResponses({ key: false, extra: [413, 415] }),
  },
};
