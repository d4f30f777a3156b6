import { z } from 'zod';
import { errorResponses, operation } from '../../platform/http/schemas.js';

const TOKEN = 'bXNnXzE3NjQ1ODAwMDAwMDBfMDE5YTgzZGUvMA.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl';
const tokenParams = (what: string) => z.object({ token: z.string().meta({ description: `The signed token of the email's ${what}`, examples: [TOKEN] }) });
const html = (example: string) => z.string().meta({ examples: [example] });

export const openPixelSchema = {
  ...operation({
    summary: 'Open tracking pixel',
    description:
      'The 1×1 image every tracked email carries (README, "Tracking"). Always a transparent GIF, never cached; a valid token counts an open of the email ' +
      '(a HEAD request, or a known image proxy or link scanner, is recorded as a bot and not counted). Not subject to the per-client rate limit.',
    tag: 'Tracking',
    extension: true,
  }),
  params: tokenParams('open pixel'),
  response: {
    200: { description: 'A 1×1 transparent GIF (43 bytes)', content: { 'image/gif': { schema: z.string().meta({ format: 'binary', examples: ['GIF89a…'] }) } } },
    ...errorResponses({ key: false }),
  },
};

export const clickRedirectSchema = {
  ...operation({
    summary: 'Tracked link',
    description:
      'Where a tracked link of an email leads (README, "Tracking"): a 302 to the URL the link had when the email was accepted, signed into the token, never to one taken from the request. ' +
      'A valid token counts a click (bots as in the open pixel). Not subject to the per-client rate limit.',
    tag: 'Tracking',
    extension: true,
  }),
  params: tokenParams('tracked link'),
  response: {
    302: {
      description: 'To the link\'s original URL (the Location header); the body is a short HTML page with the same link',
      content: { 'text/html': { schema: html('<!doctype html><html><body><a href="https://example.com/pricing">https://example.com/pricing</a></body></html>') } },
    },
    404: {
      description: 'The link is not valid (an HTML page)',
      content: { 'text/html': { schema: html('<!doctype html><html><head><title>Not found</title></head><body><h1>Link not valid</h1></body></html>') } },
    },
    ...errorResponses({ key: false }),
  },
};
