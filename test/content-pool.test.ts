import { afterEach, describe, expect, it } from 'vitest';
import { htmlToText } from '../src/platform/mail/html-to-text.js';
import { createLogger } from '../src/platform/logger.js';
import type { MailContent } from '../src/platform/mail/types.js';
import { compiledScript } from '../src/platform/workers/compiled-script.js';
import { ContentPool, ContentPoolBusyError, ContentTaskMemoryError, ContentTaskTimeoutError } from '../src/platform/workers/content-pool.js';
import { FALLBACK_TEXT, largeHtmlTextAlternative, THREAD_HTML_TO_TEXT_CHARS } from '../src/modules/delivery/text-alternative.js';
import { TemplateRenderer } from '../src/modules/templates/renderer.js';
import type { RenderAnswer, TemplateTask } from '../src/modules/templates/tasks.js';
import { ApiError } from '../src/platform/http/errors.js';

/**
 * Real threads: the pool runs the compiled content worker from dist/ (built by `npm test`), because a worker
 * thread cannot load the TypeScript sources this test runs from.
 */
const SCRIPT = compiledScript('../src/app/content-worker.js', import.meta.url);

const pools: ContentPool[] = [];
const pool = (opts: Partial<ConstructorParameters<typeof ContentPool>[0]> = {}) => {
  const p = new ContentPool({ script: SCRIPT, threads: 1, memoryMb: 128, ...opts });
  pools.push(p);
  return p;
};
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

const render = (html: string, context: Record<string, unknown>, maxBytes = 5 * 1024 * 1024): TemplateTask => ({
  kind: 'template.render',
  key: `k:${html}`,
  sources: { subject: 's', html, text: null },
  context,
  maxBytes,
});
const items = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('content pool (worker threads from the build)', () => {
  it('finds the compiled worker script under dist/ when running from the sources', () => {
    expect(SCRIPT.pathname).toMatch(/\/dist\/app\/content-worker\.js$/);
  });

  it('aborts a task past its time limit, replaces the thread, and serves the next task', async () => {
    const p = pool();
    // 250^4 iterations with an empty body: no output to stop it, only the time limit
    const endless = render('{{#each a}}{{#each ../a}}{{#each ../../a}}{{#each ../../../a}}{{/each}}{{/each}}{{/each}}{{/each}}', { a: items(250) });
    const started = Date.now();
    await expect(p.run(endless, { timeoutMs: 300 })).rejects.toBeInstanceOf(ContentTaskTimeoutError);
    expect(Date.now() - started).toBeLessThan(10_000);
    const next = (await p.run(render('Hi {{name}}', { name: 'Ann' }), { timeoutMs: 5000 })) as RenderAnswer;
    expect(next).toEqual({ ok: true, rendered: { subject: 's', html: 'Hi Ann', text: null } });
  });

  it('stops a task that needs more memory than a thread may use, and keeps serving', async () => {
    const p = pool({ memoryMb: 64 });
    // every escaped copy of `big` is a new string of 600 KB: 2,000 of them need far more than 64 MB
    const hungry = render('{{#each a}}{{@root.big}}{{/each}}', { a: items(2000), big: '"'.repeat(100_000) }, 2_000_000_000);
    await expect(p.run(hungry, { timeoutMs: 60_000 })).rejects.toBeInstanceOf(ContentTaskMemoryError);
    const next = (await p.run(render('ok {{x}}', { x: 1 }), { timeoutMs: 5000 })) as RenderAnswer;
    expect(next.ok).toBe(true);
  });

  it('refuses a task at once when every thread is busy and the waiting line is full, and after close', async () => {
    const p = pool({ maxWaiting: 0 });
    const slow = p.run(render('{{#each a}}{{#each ../a}}{{#each ../../a}}{{/each}}{{/each}}{{/each}}', { a: items(300) }), { timeoutMs: 300 });
    await expect(p.run(render('x', {}), { timeoutMs: 1000 })).rejects.toBeInstanceOf(ContentPoolBusyError);
    await expect(slow).rejects.toBeInstanceOf(ContentTaskTimeoutError);
    await p.close();
    await expect(p.run(render('x', {}), { timeoutMs: 1000 })).rejects.toBeInstanceOf(ContentPoolBusyError);
  });

  it('lines tasks up for a free thread and runs every one', async () => {
    const p = pool();
    const tasks = Array.from({ length: 6 }, (_, i) => p.run({ kind: 'html-to-text', html: `<p>n${i}</p>`.repeat(2_000) }, { timeoutMs: 5000 }));
    const texts = (await Promise.all(tasks)) as string[];
    expect(texts.map((t) => t.slice(0, 5))).toEqual(['n0\n\nn', 'n1\n\nn', 'n2\n\nn', 'n3\n\nn', 'n4\n\nn', 'n5\n\nn']);
    expect(p.tasksStarted).toBe(6);
  });
});

describe('templates when no thread is available', () => {
  it('answer 503 SERVICE_UNAVAILABLE with Retry-After, a retryable error', async () => {
    const p = pool();
    await p.close();
    const renderer = new TemplateRenderer(p, { templateDataMaxBytes: 1024, renderMaxBytes: 1024, renderTimeoutMs: 1000, compileTimeoutMs: 1000 });
    const failure = await renderer.render('k', { subject: 's', html: 'x', text: null }, {}).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ApiError);
    expect(failure).toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 503, extra: { headers: { 'Retry-After': '1' } } });
  });
});

describe('the text part of large HTML-only email', () => {
  const log = createLogger('silent');
  const content = (html: string): MailContent => ({ messageId: '<m@x.test>', date: new Date(), from: { email: 'a@x.test' }, to: [{ email: 'b@x.test' }], cc: [], bcc: [], replyTo: [], subject: 's', html, headers: {}, attachments: [] });

  it('is converted on a thread above the threshold, exactly as the delivery thread would', async () => {
    const p = pool();
    const html = '<table><tr><td><p>Hello <b>there</b>, a <a href="https://example.test/x">link</a>.</p></td></tr></table>\n'.repeat(800);
    expect(html.length).toBeGreaterThan(THREAD_HTML_TO_TEXT_CHARS);
    const done = await largeHtmlTextAlternative(p, log)(content(html));
    expect(done.text).toBe(htmlToText(html));
    expect(p.tasksStarted).toBe(1);
  });

  it('is left to composing below the threshold, and kept when the email has one', async () => {
    const p = pool();
    const small = content('<p>small</p>');
    expect(await largeHtmlTextAlternative(p, log)(small)).toBe(small);
    const withText = { ...content('<p>x</p>'.repeat(20_000)), text: 'mine' };
    expect(await largeHtmlTextAlternative(p, log)(withText)).toBe(withText);
    expect(p.tasksStarted).toBe(0);
  });

  it('falls back to a fixed text when no thread can convert it', async () => {
    const p = pool();
    await p.close();
    const done = await largeHtmlTextAlternative(p, log)(content('<p>x</p>'.repeat(20_000)));
    expect(done.text).toBe(FALLBACK_TEXT);
  });
});
