import { z } from 'zod';
import type { ReadEnv } from './domains-config.js';

/** Limits on the CPU-heavy work done with tenants' content (templates, MJML, HTML-to-text), and the threads that do it. */
export interface ContentConfig {
  /** worker threads for templates, MJML and the text part of large HTML */
  threads: number;
  /** old-generation heap limit of each of those threads */
  threadMemoryMb: number;
  /** each source field of a saved template (subject, html, text, mjml) */
  templateMaxBytes: number;
  /** the data (`params`) of one render, as check.ts measureData counts it: it is copied to a thread for large renders */
  templateDataMaxBytes: number;
  /** each rendered field (subject, html, text), and the HTML that MJML compiles to */
  renderMaxBytes: number;
  renderTimeoutMs: number;
  /** checking a template when it is saved, MJML compilation included */
  compileTimeoutMs: number;
}

const intBetween = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export function loadContentConfig(read: ReadEnv): ContentConfig {
  return {
    threads: read('CONTENT_THREADS', intBetween(1, 64), 2),
    threadMemoryMb: read('CONTENT_THREAD_MEMORY_MB', intBetween(64, 16_384), 256),
    templateMaxBytes: read('TEMPLATE_MAX_BYTES', intBetween(1024, 1_048_576), 256 * 1024),
    templateDataMaxBytes: read('TEMPLATE_DATA_MAX_BYTES', intBetween(1024, 40 * 1024 * 1024), 512 * 1024),
    renderMaxBytes: read('TEMPLATE_RENDER_MAX_BYTES', intBetween(1024, 40 * 1024 * 1024), 5 * 1024 * 1024),
    renderTimeoutMs: read('TEMPLATE_RENDER_TIMEOUT_MS', intBetween(50, 600_000), 2000),
    compileTimeoutMs: read('TEMPLATE_COMPILE_TIMEOUT_MS', intBetween(100, 600_000), 5000),
  };
}
