import type { ContentConfig } from '../../config/content-config.js';
import { ApiError } from '../../platform/http/errors.js';
import { ContentPoolBusyError, ContentTaskMemoryError, ContentTaskTimeoutError, type ContentPool } from '../../platform/workers/content-pool.js';
import { LruMap } from '../../platform/lru-map.js';
import { measureData } from './check.js';
import { BudgetExceededError, renderField, templateFromSpec, type CompiledTemplate, type TemplateField } from './engine.js';
import type { CompileAnswer, CompiledField, CompiledSources, MjmlAnswer, RenderAnswer, RenderedFields, TemplateFailure, TemplateSources, TemplateTask } from './tasks.js';

/**
 * What may render on the event loop. Measured on a 2-core VM: Handlebars compiles about 3 ms per KB of a
 * template dense with expressions (45 ms for 5 KB), so compilation always runs on a content thread; a small
 * render takes about 2 µs, against about 110 µs for a round trip to a thread. A render stays here when its
 * bound (check.ts) is at most INLINE_OUTPUT characters and, while it runs, its loops stay within
 * INLINE_OUTPUT and INLINE_STEPS (about 2 µs each): the worst inputs measured (nested loops, escaping-heavy
 * values, many formatDate calls) then take under a millisecond (median), a transactional template 4 µs. Anything larger, or any render that goes over, runs on a thread
 * under TEMPLATE_RENDER_TIMEOUT_MS and TEMPLATE_RENDER_MAX_BYTES.
 */
const INLINE_OUTPUT = 128 * 1024;
const INLINE_STEPS = 1000;
/** precompiled code evaluated on the event loop: about 0.2 ms per 10 KB, once per template version */
const INLINE_SPEC = 512 * 1024;

interface Entry {
  /** the sum of the fields' bounds (check.ts) */
  cost: { fixed: number; perValue: number };
  /** kept only for a template that may render here; null when it always renders on a thread */
  specs: CompiledSources | null;
  /** evaluated from `specs` on the first inline render */
  functions: { subject: CompiledTemplate; html: CompiledTemplate; text: CompiledTemplate | null } | null;
}

const SERVICE_BUSY = () => new ApiError('SERVICE_UNAVAILABLE', 'The server is busy with other templates; retry in a moment', { headers: { 'Retry-After': '1' } });

/**
 * Compiles, checks and renders templates and compiles MJML, keeping the event loop to bounded work: small
 * renders run here, everything else on the content threads with time, size and memory limits.
 */
export class TemplateRenderer {
  /** weighed by the precompiled code they keep: at most 32 M characters of it */
  private readonly entries = new LruMap<string, Promise<Entry>>(1000, 32 * 1024 * 1024);

  constructor(
    private readonly pool: ContentPool,
    private readonly limits: Pick<ContentConfig, 'templateDataMaxBytes' | 'renderMaxBytes' | 'renderTimeoutMs' | 'compileTimeoutMs'>,
  ) {}

  /** At save: refuses what cannot be rendered (syntax, partials, unknown helpers, `{{log}}`, …) with INVALID_TEMPLATE. */
  async check(sources: TemplateSources): Promise<void> {
    const answer = (await this.run({ kind: 'template.compile', key: null, sources, strict: true }, this.limits.compileTimeoutMs, 'TEMPLATE_COMPILE_TIMEOUT_MS', 'Checking the template')) as CompileAnswer;
    if (!answer.ok) throw this.failure(answer.failure);
  }

  /** Renders a stored version (`key` names it: a version never changes) with the given data. */
  async render(key: string, sources: TemplateSources, context: Record<string, unknown>): Promise<RenderedFields> {
    // measured before anything copies the data or walks it again
    const maxData = this.limits.templateDataMaxBytes;
    const data = measureData(context, maxData);
    if (data.total > maxData) {
      throw new ApiError('TEMPLATE_LIMIT_EXCEEDED', `The template data ('params') is larger than ${maxData} bytes (TEMPLATE_DATA_MAX_BYTES)`, { details: { limit: 'TEMPLATE_DATA_MAX_BYTES' } });
    }
    const entry = await this.entry(key, sources);
    if (entry.specs && this.estimate(entry.cost, data.largest) <= INLINE_OUTPUT) {
      const rendered = this.renderInline(entry, entry.specs, context);
      if (rendered) return rendered;
    }
    const task: TemplateTask = { kind: 'template.render', key, sources, context, maxBytes: this.limits.renderMaxBytes };
    const answer = (await this.run(task, this.limits.renderTimeoutMs, 'TEMPLATE_RENDER_TIMEOUT_MS', 'Rendering the template')) as RenderAnswer;
    if (!answer.ok) throw this.failure(answer.failure);
    return answer.rendered;
  }

  /** MJML to HTML on a thread, refused with its validation errors and their lines. */
  async compileMjml(source: string): Promise<string> {
    const task: TemplateTask = { kind: 'mjml.compile', source, maxBytes: this.limits.renderMaxBytes };
    const answer = (await this.run(task, this.limits.compileTimeoutMs, 'TEMPLATE_COMPILE_TIMEOUT_MS', 'Compiling the MJML')) as MjmlAnswer;
    if (!answer.ok) throw this.failure(answer.failure);
    return answer.html;
  }

  private entry(key: string, sources: TemplateSources): Promise<Entry> {
    const cached = this.entries.get(key);
    if (cached) return cached;
    // saved templates were checked; a stored one from before the checks still renders what it can
    const task: TemplateTask = { kind: 'template.compile', key, sources, strict: false };
    const compiling: Promise<Entry> = this.run(task, this.limits.compileTimeoutMs, 'TEMPLATE_COMPILE_TIMEOUT_MS', 'Compiling the template').then((result) => {
      const answer = result as CompileAnswer;
      if (!answer.ok) throw this.failure(answer.failure);
      const fields = [answer.compiled.subject, answer.compiled.html, answer.compiled.text].filter((f): f is CompiledField => f !== null);
      const specLength = fields.reduce((n, f) => n + f.spec.length, 0);
      const inline = specLength <= INLINE_SPEC && fields.every((f) => f.cost.bounded);
      const cost = { fixed: fields.reduce((n, f) => n + f.cost.fixed, 0), perValue: fields.reduce((n, f) => n + f.cost.perValue, 0) };
      this.entries.set(key, compiling, inline ? specLength : 0);
      return { cost, specs: inline ? answer.compiled : null, functions: null };
    });
    this.entries.set(key, compiling, 0);
    compiling.catch(() => this.entries.delete(key));
    return compiling;
  }

  /** The most one pass over the template can output (check.ts), given the longest text one value prints as. */
  private estimate(cost: Entry['cost'], largestValue: number): number {
    return cost.perValue === 0 ? cost.fixed : cost.fixed + cost.perValue * largestValue;
  }

  /** null when the loops went over the inline budget: the caller renders on a thread instead. */
  private renderInline(entry: Entry, specs: CompiledSources, context: Record<string, unknown>): RenderedFields | null {
    const functions = (entry.functions ??= {
      subject: templateFromSpec(specs.subject.spec),
      html: templateFromSpec(specs.html.spec),
      text: specs.text ? templateFromSpec(specs.text.spec) : null,
    });
    const limits = { maxBytes: Math.min(INLINE_OUTPUT, this.limits.renderMaxBytes), maxSteps: INLINE_STEPS };
    let field: TemplateField = 'subject';
    try {
      const subject = renderField(functions.subject, field, context, limits);
      field = 'html';
      const html = renderField(functions.html, field, context, limits);
      field = 'text';
      const text = functions.text ? renderField(functions.text, field, context, limits) : null;
      return { subject, html, text };
    } catch (err) {
      if (err instanceof BudgetExceededError) return null;
      throw this.failure({ kind: 'render', field, message: (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? 'failed' });
    }
  }

  private async run(task: TemplateTask, timeoutMs: number, limitName: string, what: string): Promise<unknown> {
    try {
      return await this.pool.run(task, { timeoutMs });
    } catch (err) {
      if (err instanceof ContentTaskTimeoutError) {
        throw new ApiError('TEMPLATE_LIMIT_EXCEEDED', `${what} took longer than ${timeoutMs} ms (${limitName}) and was stopped`, { details: { limit: limitName } });
      }
      if (err instanceof ContentTaskMemoryError) {
        throw new ApiError('TEMPLATE_LIMIT_EXCEEDED', `${what} needed more than ${err.memoryMb} MB of memory (CONTENT_THREAD_MEMORY_MB) and was stopped`, { details: { limit: 'CONTENT_THREAD_MEMORY_MB' } });
      }
      if (err instanceof ContentPoolBusyError) throw SERVICE_BUSY();
      throw err;
    }
  }

  private failure(f: TemplateFailure): ApiError {
    const max = this.limits.renderMaxBytes;
    switch (f.kind) {
      case 'source':
        return new ApiError('INVALID_TEMPLATE', f.message);
      case 'render':
        return new ApiError('INVALID_TEMPLATE', `The template's ${f.field} cannot be rendered: ${f.message}`);
      case 'output':
        return new ApiError('TEMPLATE_LIMIT_EXCEEDED', `Rendering the template's ${f.field} produced more than ${max} bytes (TEMPLATE_RENDER_MAX_BYTES)`, { details: { limit: 'TEMPLATE_RENDER_MAX_BYTES' } });
      case 'mjml-output':
        return new ApiError('TEMPLATE_LIMIT_EXCEEDED', `The MJML compiles to more than ${max} bytes of HTML (TEMPLATE_RENDER_MAX_BYTES)`, { details: { limit: 'TEMPLATE_RENDER_MAX_BYTES' } });
      case 'mjml-invalid': {
        const shown = f.errors.slice(0, 20);
        const list = shown.map((e) => (e.line !== null ? `line ${e.line}: ${e.message}` : e.message)).join('; ');
        const more = f.errors.length > shown.length ? ` (and ${f.errors.length - shown.length} more)` : '';
        return new ApiError('INVALID_TEMPLATE', `Field 'mjml' is not valid MJML: ${list}${more}`, { details: { mjml_errors: shown } });
      }
      case 'mjml-failed':
        return new ApiError('INVALID_TEMPLATE', `Field 'mjml' could not be compiled: ${f.message}`);
    }
  }
}
