import { isTemplateTask, runTemplateTask, type TemplateTask } from '../modules/templates/thread.js';
import { isTrackingTask, runTrackingTask, type TrackingScanTask } from '../modules/tracking/thread.js';
import type { HtmlToTextTask } from '../modules/delivery/index.js';
import { htmlToText } from '../platform/mail/html-to-text.js';

/**
 * The script of a content thread (platform/workers/content-pool.ts): it receives each task and answers with
 * plain data. Whatever a tenant's content makes a library print would land in the server's output, which is
 * the server's log: a content thread prints nothing.
 */
for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) console[method] = () => undefined;

export type ContentTask = TemplateTask | HtmlToTextTask | TrackingScanTask;

export default async function runContentTask(task: ContentTask): Promise<unknown> {
  if (task.kind === 'html-to-text') return htmlToText(task.html);
  if (isTemplateTask(task)) return runTemplateTask(task);
  if (isTrackingTask(task)) return runTrackingTask(task);
  throw new Error(`unknown content task ${JSON.stringify((task as { kind?: unknown }).kind)}`);
}
