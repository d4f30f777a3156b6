import { z } from 'zod';
import { errorResponses, operation } from '../../platform/http/schemas.js';

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
    description: 'RFC 8058 one-click unsubscribe, posted by mail clients or by the page\'s form (a form body is accepted here only). The request is recorded on the email\'s timeline for the sender.',
    tag: 'Hosted pages',
  }),
  params: tokenParams('unsubscribe'),
  response: {
    200: { description: 'The request was recorded', content: { 'text/html': { schema: html('<!doctype html><html><body><h1>Request received</h1></body></html>') } } },
    404: notFound,
    ...errorResponses({ key: false, extra: [413, 415] }),
  },
};
