import { LruMap } from '../../platform/lru-map.js';
import { analyseTemplate, type TemplateCost } from './check.js';
import { BudgetExceededError, compile, parse, precompile, renderField, templateFromSpec, TemplateSourceError, type CompiledTemplate, type TemplateField } from './engine.js';

/**
 * The templates' work that runs on content threads (src/app/content-worker.ts dispatches here): compiling and
 * checking Handlebars, rendering large templates, compiling MJML. Every answer is plain data, because an
 * error thrown on a thread reaches the caller without its class or fields.
 */

export interface TemplateSources {
  subject: string;
  html: string;
  text: string | null;
}

export interface RenderedFields {
  subject: string;
  html: string;
  text: string | null;
}

export interface CompiledField {
  /** Handlebars' precompiled JavaScript (engine.ts templateFromSpec) */
  spec: string;
  cost: TemplateCost;
}

export interface CompiledSources {
  subject: CompiledField;
  html: CompiledField;
  text: CompiledField | null;
}

export type TemplateFailure =
  /** the source cannot be rendered (syntax, or with `strict` a construct that fails when rendered) */
  | { kind: 'source'; field: string; message: string }
  /** a rendered field went over `maxBytes` */
  | { kind: 'output'; field: TemplateField }
  /** Handlebars failed while rendering (a stored template saved before the save-time checks) */
  | { kind: 'render'; field: TemplateField; message: string }
  | { kind: 'mjml-invalid'; errors: { line: number | null; message: string }[] }
  | { kind: 'mjml-failed'; message: string }
  | { kind: 'mjml-output' };

export type TemplateTask =
  /** `key` (template and version) lets the thread keep what it compiled for the renders that follow */
  | { kind: 'template.compile'; key: string | null; sources: TemplateSources; strict: boolean }
  | { kind: 'template.render'; key: string; sources: TemplateSources; context: Record<string, unknown>; maxBytes: number }
  | { kind: 'mjml.compile'; source: string; maxBytes: number };

export type CompileAnswer = { ok: true; compiled: CompiledSources } | { ok: false; failure: TemplateFailure };
export type RenderAnswer = { ok: true; rendered: RenderedFields } | { ok: false; failure: TemplateFailure };
export type MjmlAnswer = { ok: true; html: string } | { ok: false; failure: TemplateFailure };

export const isTemplateTask = (task: { kind: string }): task is TemplateTask => task.kind.startsWith('template.') || task.kind === 'mjml.compile';

export async function runTemplateTask(task: TemplateTask): Promise<CompileAnswer | RenderAnswer | MjmlAnswer> {
  switch (task.kind) {
    case 'template.compile':
      return compileTask(task.key, task.sources, task.strict);
    case 'template.render':
      return renderTask(task.key, task.sources, task.context, task.maxBytes);
    case 'mjml.compile':
      return compileMjml(task.source, task.maxBytes);
  }
}

interface Compiled {
  subject: CompiledTemplate;
  html: CompiledTemplate;
  text: CompiledTemplate | null;
}

/** What this thread compiled, kept within a total source size so large templates cannot exhaust its heap. */
const compiledHere = new LruMap<string, Compiled>(500, 16 * 1024 * 1024);
const sourceWeight = (s: TemplateSources) => s.subject.length + s.html.length + (s.text?.length ?? 0);

function compileTask(key: string | null, sources: TemplateSources, strict: boolean): CompileAnswer {
  try {
    const field = (name: TemplateField, source: string): CompiledField => {
      const cost = analyseTemplate(parse(source, name), name, strict);
      return { spec: precompile(source, name), cost };
    };
    const compiled: CompiledSources = {
      subject: field('subject', sources.subject),
      html: field('html', sources.html),
      text: sources.text ? field('text', sources.text) : null,
    };
    if (key !== null) {
      const text = compiled.text;
      compiledHere.set(key, { subject: templateFromSpec(compiled.subject.spec), html: templateFromSpec(compiled.html.spec), text: text ? templateFromSpec(text.spec) : null }, sourceWeight(sources));
    }
    return { ok: true, compiled };
  } catch (err) {
    if (err instanceof TemplateSourceError) return { ok: false, failure: { kind: 'source', field: err.field, message: err.message } };
    throw err;
  }
}

function renderTask(key: string, sources: TemplateSources, context: Record<string, unknown>, maxBytes: number): RenderAnswer {
  let compiled = compiledHere.get(key);
  try {
    if (!compiled) {
      compiled = { subject: compile(sources.subject, 'subject'), html: compile(sources.html, 'html'), text: sources.text ? compile(sources.text, 'text') : null };
      compiledHere.set(key, compiled, sourceWeight(sources));
    }
  } catch (err) {
    if (err instanceof TemplateSourceError) return { ok: false, failure: { kind: 'source', field: err.field, message: err.message } };
    throw err;
  }
  // no step limit here: the task's time limit bounds the work, the output limit the size
  const limits = { maxBytes, maxSteps: Infinity };
  const one = (field: TemplateField, template: CompiledTemplate): string => renderField(template, field, context, limits);
  let field: TemplateField = 'subject';
  try {
    const subject = one(field, compiled.subject);
    field = 'html';
    const html = one(field, compiled.html);
    field = 'text';
    const text = compiled.text ? one(field, compiled.text) : null;
    return { ok: true, rendered: { subject, html, text } };
  } catch (err) {
    if (err instanceof BudgetExceededError) return { ok: false, failure: { kind: 'output', field: err.field } };
    return { ok: false, failure: { kind: 'render', field, message: errorText(err) } };
  }
}

interface MjmlValidationError {
  line?: unknown;
  message?: unknown;
}

async function compileMjml(source: string, maxBytes: number): Promise<MjmlAnswer> {
  // loaded on first use: MJML is large (about a second to load) and most threads never need it
  const { default: mjml2html } = await import('mjml');
  let html: string;
  try {
    // strict: a document with validation errors is refused rather than compiled with the faulty parts left
    // out; includes are never read (they would read the server's files)
    html = (await mjml2html(source, { validationLevel: 'strict', keepComments: false, ignoreIncludes: true })).html;
  } catch (err) {
    const errors = (err as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0) {
      // only line and message: MJML's formatted text names a path on this server
      const list = (errors as MjmlValidationError[]).map((e) => ({
        line: typeof e.line === 'number' ? e.line : null,
        message: typeof e.message === 'string' ? e.message.trim() : 'invalid element',
      }));
      return { ok: false, failure: { kind: 'mjml-invalid', errors: list } };
    }
    return { ok: false, failure: { kind: 'mjml-failed', message: errorText(err) } };
  }
  if (html.length > maxBytes || Buffer.byteLength(html) > maxBytes) return { ok: false, failure: { kind: 'mjml-output' } };
  return { ok: true, html };
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? 'failed';
