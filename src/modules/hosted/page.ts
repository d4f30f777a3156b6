import type { FastifyReply } from 'fastify';
import { escapeHtml } from '../../platform/html-escape.js';

/** A page of our own; `title` is text (escaped here), `body` is HTML the caller built and escaped. */
export const page = (title: string, body: string, style = '') =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title>` +
  `${style ? `<style>${style}</style>` : ''}</head>` +
  `<body style="font-family:system-ui,sans-serif;max-width:560px;margin:48px auto;padding:0 16px;color:#111827">${body}</body></html>`;

export const NOT_FOUND_PAGE = page('Not found', '<h1>Link not valid</h1><p>This link is not valid or has expired.</p>');

/**
 * Tenant HTML on our origin: sandboxed (no script, forms, popups or top navigation, an opaque origin), nothing
 * loaded but images, styles and fonts over https or data, no framing, no base URL, no referrer.
 */
export const VIEW_POLICY = [
  'sandbox',
  "default-src 'none'",
  'img-src https: data:',
  "style-src 'unsafe-inline' https:",
  'font-src https: data:',
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Our own pages: their forms post to themselves; nothing else runs or loads. */
export const OWN_PAGE_POLICY = ["default-src 'none'", "style-src 'unsafe-inline'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"].join('; ');

export function protect(reply: FastifyReply, policy: string): FastifyReply {
  return reply
    .header('Content-Security-Policy', policy)
    .header('X-Content-Type-Options', 'nosniff')
    .header('Referrer-Policy', 'no-referrer')
    .header('X-Frame-Options', 'DENY');
}
