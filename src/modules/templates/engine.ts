import Handlebars from 'handlebars';
import { DateTime } from 'luxon';

/**
 * One Handlebars environment for all templates, with the helpers templates may use. `{{x}}` is HTML-escaped,
 * `{{{x}}}` is raw. Compiled templates are cached by (template, version): a version never changes.
 */
const hbs = Handlebars.create();

type HelperOptions = Handlebars.HelperOptions;
const isOptions = (v: unknown): v is HelperOptions => typeof v === 'object' && v !== null && 'hash' in v && 'data' in v;

/** {{formatDate value "yyyy-MM-dd" tz="Europe/Paris"}} — luxon format tokens; value: ISO text, epoch ms or Date */
hbs.registerHelper('formatDate', (value: unknown, ...rest: unknown[]) => {
  const options = rest.find(isOptions);
  const format = typeof rest[0] === 'string' ? rest[0] : 'yyyy-MM-dd';
  const zone = typeof options?.hash.tz === 'string' ? options.hash.tz : 'UTC';
  let dt: DateTime;
  if (value instanceof Date) dt = DateTime.fromJSDate(value);
  else if (typeof value === 'number') dt = DateTime.fromMillis(value);
  else if (typeof value === 'string') dt = DateTime.fromISO(value, { setZone: true });
  else return '';
  return dt.isValid ? dt.setZone(zone).toFormat(format) : '';
});

/** {{default name "there"}} — the fallback when the value is missing or empty */
hbs.registerHelper('default', (value: unknown, fallback: unknown) => (value === undefined || value === null || value === '' ? fallback : value));
hbs.registerHelper('uppercase', (value: unknown) => (typeof value === 'string' ? value.toUpperCase() : value));
hbs.registerHelper('lowercase', (value: unknown) => (typeof value === 'string' ? value.toLowerCase() : value));
/** {{urlEncode q}} for values placed inside URLs */
hbs.registerHelper('urlEncode', (value: unknown) => (value === undefined || value === null ? '' : encodeURIComponent(String(value))));
hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);

export type CompiledTemplate = (context: Record<string, unknown>) => string;

export class TemplateSyntaxError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`Template ${field} has a syntax error: ${message}`);
    this.name = 'TemplateSyntaxError';
  }
}

/** In the subject and the text part nothing is HTML, so only the html field escapes variables. */
export function compile(source: string, field: 'subject' | 'html' | 'text'): CompiledTemplate {
  const options = { noEscape: field !== 'html' };
  try {
    // precompile now so syntax errors surface when the template is saved, not when it is sent
    hbs.precompile(source, options);
    return hbs.compile(source, options);
  } catch (err) {
    throw new TemplateSyntaxError(field, (err as Error).message.split('\n')[0] ?? 'invalid template');
  }
}

/** A variable counts as present when its dotted path resolves to something other than undefined/null/''. */
export function missingVariables(required: readonly string[], params: Record<string, unknown>): string[] {
  return required.filter((path) => {
    let v: unknown = params;
    for (const part of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
    return v === undefined || v === null || v === '';
  });
}

export interface CompiledVersion {
  subject: CompiledTemplate;
  html: CompiledTemplate;
  text: CompiledTemplate | null;
}

const cache = new Map<string, CompiledVersion>();
const CACHE_LIMIT = 1000;

export function compiledVersion(key: string, src: { subject: string; html: string; text: string | null }): CompiledVersion {
  let hit = cache.get(key);
  if (!hit) {
    hit = { subject: compile(src.subject, 'subject'), html: compile(src.html, 'html'), text: src.text ? compile(src.text, 'text') : null };
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    cache.set(key, hit);
  }
  return hit;
}

/** Subjects are one header line: whatever a variable holds, line breaks become spaces. */
export const oneLine = (s: string): string => s.replace(/[\r\n\u2028\u2029\0]+/g, ' ').trim();
