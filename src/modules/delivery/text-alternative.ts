import type { Logger } from '../../platform/logger.js';
import type { MailContent } from '../../platform/mail/types.js';
import type { ContentPool } from '../../platform/workers/content-pool.js';

/** The content threads' task that converts HTML to the plain-text alternative (src/app/content-worker.ts). */
export interface HtmlToTextTask {
  kind: 'html-to-text';
  html: string;
}

/**
 * Above this much HTML the text alternative is made on a content thread. Measured on a 2-core VM: the
 * conversion costs about 0.07 ms per KB of ordinary email HTML when it is linear, so up to 64 KB stays under
 * 5 ms on the delivery thread; beyond, a thread costs one round trip (about 0.1 ms) and the delivery thread
 * stays free for the other messages in flight.
 */
export const THREAD_HTML_TO_TEXT_CHARS = 64 * 1024;
export const HTML_TO_TEXT_TIMEOUT_MS = 5_000;

/** The text part of an HTML-only email whose HTML could not be converted in time. */
export const FALLBACK_TEXT = 'This email is written in HTML. To read it, open it in a mail program that shows HTML.';

/**
 * Gives an HTML-only email with large HTML its text part, made on a content thread, so that composing it
 * (which would convert on the delivery thread) only copies it. If the thread fails or runs out of time, the
 * email still goes out, with FALLBACK_TEXT as its text part.
 */
export function largeHtmlTextAlternative(pool: ContentPool, log: Logger): (content: MailContent) => Promise<MailContent> {
  return async (content) => {
    if ((content.text !== undefined && content.text !== '') || content.html === undefined || content.html.length <= THREAD_HTML_TO_TEXT_CHARS) return content;
    let text: string;
    try {
      const task: HtmlToTextTask = { kind: 'html-to-text', html: content.html };
      text = String(await pool.run(task, { timeoutMs: HTML_TO_TEXT_TIMEOUT_MS }));
    } catch (err) {
      log.warn({ err, messageId: content.messageId, htmlLength: content.html.length }, 'text part of a large HTML email not converted; sending a fallback text');
      text = FALLBACK_TEXT;
    }
    // an empty text would make composing convert the HTML again, on the delivery thread
    return { ...content, text: text === '' ? FALLBACK_TEXT : text };
  };
}
