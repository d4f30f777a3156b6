import Handlebars from 'handlebars';
import { DateTime } from 'luxon';

/**
 * One Handlebars environment for all templates, with the helpers templates may use. `{{x}}` is HTML-escaped,
 * `{{{x}}}` is raw. The same module runs on the event loop (small renders) and on the content threads
 * (compilation, large renders), so both produce the same bytes.
 */
const hbs = Handlebars.create();

// Nothing a template does may reach the server's log: `{{log}}` writes through this logger, and so do
// Handlebars' warnings about denied prototype access (whose text a template chooses). Prototype access
// itself stays refused (Handlebars' default).
hbs.logger.log = () => undefined;
hbs.registerHelper('log', () => undefined);

type HelperOptions = Handlebars.HelperOptions;
const isOptions = (v: unknown): v is HelperOptions => typeof v === 'object' && v !== null && 'hash' in v && 'data' in v;

/** {{formatDate value "yyyy-MM-dd" tz="Europe/Paris"}} — luxon format tokens; value: ISO text, epoch ms or Date */
hbs.registerHelper('formatDate', (value: unknown, ...rest: unknown[]) => {
  const options = rest.find(isOptions);
  const format = typeof rest[0] === 'string' ? rest[0] : 'yyyy-MM-dd';
  const zone = typeof options?.hash.tz === 'string' ? options.hash.tz : 'UTC';
  // luxon formatting costs as much as 20 to 100 loop iterations (measured: 40–180 µs a call)
  activeBudget?.charge(25 + 5 * format.length);
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

/** Helpers a template may call, besides the block helpers if, unless, each and with. */
export const VALUE_HELPERS: ReadonlySet<string> = new Set(['formatDate', 'default', 'uppercase', 'lowercase', 'urlEncode', 'eq', 'lookup']);

export class BudgetExceededError extends Error {
  constructor(
    readonly kind: 'output' | 'steps',
    readonly field: TemplateField,
  ) {
    super(`rendering the template's ${field} went over its ${kind === 'output' ? 'output size' : 'steps'} budget`);
    this.name = 'BudgetExceededError';
  }
}

/**
 * Counts what loops produce, and the work of loops and costly helpers, while a field renders. Handlebars
 * builds its output by concatenation inside compiled code, out of reach, but every loop goes through `each`
 * (also `{{#list}}` over an array), so that is where growth is measured: each iteration's output is counted
 * once (a nested loop's output is not counted again in the iteration around it), and the render stops as soon
 * as the total passes the budget. A step is about one loop iteration's worth of CPU (2 µs measured).
 */
class LoopBudget {
  private output = 0;
  private steps = 0;
  /** per open iteration: the output its nested iterations already counted */
  private readonly counted: number[] = [];

  constructor(
    readonly field: TemplateField,
    private readonly maxOutput: number,
    private readonly maxSteps: number,
  ) {}

  charge(steps: number): void {
    this.steps += steps;
    if (this.steps > this.maxSteps) throw new BudgetExceededError('steps', this.field);
  }

  enter(): void {
    this.charge(1);
    this.counted.push(0);
  }

  leave(length: number): void {
    const nested = this.counted.pop() ?? 0;
    this.output += length - nested;
    const outer = this.counted.length - 1;
    if (outer >= 0) this.counted[outer] = (this.counted[outer] ?? 0) + length;
    if (this.output > this.maxOutput) throw new BudgetExceededError('output', this.field);
  }
}

/** Rendering is synchronous, so the budget of the render in progress can live here, out of templates' reach. */
let activeBudget: LoopBudget | null = null;

const builtinEach = hbs.helpers.each as (this: unknown, context: unknown, options: HelperOptions) => string;
hbs.registerHelper('each', function (this: unknown, context: unknown, options: HelperOptions) {
  const budget = activeBudget;
  if (!budget || !isOptions(options) || typeof options.fn !== 'function') return builtinEach.call(this, context, options);
  const body = options.fn;
  const counted = (value: unknown, runtime?: Handlebars.RuntimeOptions): string => {
    budget.enter();
    const out = body(value, runtime);
    budget.leave(out.length);
    return out;
  };
  return builtinEach.call(this, context, { ...options, fn: counted as Handlebars.TemplateDelegate });
});

export type TemplateField = 'subject' | 'html' | 'text';
export type CompiledTemplate = Handlebars.TemplateDelegate;

/** A template whose source cannot be rendered: refused when saved, INVALID_TEMPLATE when a stored one is sent. */
export class TemplateSourceError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'TemplateSourceError';
  }
}

/** In the subject and the text part nothing is HTML, so only the html field escapes variables. */
const compileOptions = (field: TemplateField) => ({ noEscape: field !== 'html' });

export type TemplateAst = ReturnType<typeof Handlebars.parse>;

export function parse(source: string, field: TemplateField): TemplateAst {
  try {
    return hbs.parse(source);
  } catch (err) {
    throw new TemplateSourceError(field, `Template ${field} has a syntax error: ${firstLine(err)}`);
  }
}

/** Compiles to Handlebars' precompiled form: JavaScript source that templateFromSpec turns into a function. */
export function precompile(source: string, field: TemplateField): string {
  try {
    return String(hbs.precompile(source, compileOptions(field)));
  } catch (err) {
    throw new TemplateSourceError(field, `Template ${field} has a syntax error: ${firstLine(err)}`);
  }
}

/**
 * The template function for a precompiled spec, as `Handlebars.compile` itself makes it (it evaluates the
 * same generated code). This lets the expensive part, compilation, run on a content thread while small
 * renders stay on the event loop.
 */
export function templateFromSpec(spec: string): CompiledTemplate {
  const specification = new Function(`return ${spec};`)() as object;
  return hbs.template(specification);
}

export function compile(source: string, field: TemplateField): CompiledTemplate {
  return templateFromSpec(precompile(source, field));
}

export interface RenderLimits {
  /** loop output, in characters; and the whole field, in UTF-8 bytes */
  maxBytes: number;
  /** loop iterations, plus the cost of formatDate calls (see LoopBudget) */
  maxSteps: number;
}

/** Renders one field within the limits; BudgetExceededError when it goes over. */
export function renderField(template: CompiledTemplate, field: TemplateField, context: Record<string, unknown>, limits: RenderLimits): string {
  const previous = activeBudget;
  activeBudget = new LoopBudget(field, limits.maxBytes, limits.maxSteps);
  let out: string;
  try {
    out = template(context);
  } finally {
    activeBudget = previous;
  }
  // length first: it costs nothing even for a very long string, while counting bytes reads all of it
  if (out.length > limits.maxBytes || Buffer.byteLength(out) > limits.maxBytes) throw new BudgetExceededError('output', field);
  return out;
}

/** A variable counts as present when its dotted path resolves to something other than undefined/null/''. */
export function missingVariables(required: readonly string[], params: Record<string, unknown>): string[] {
  return required.filter((path) => {
    let v: unknown = params;
    for (const part of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
    return v === undefined || v === null || v === '';
  });
}

/** Subjects are one header line: whatever a variable holds, line breaks become spaces. */
export const oneLine = (s: string): string => s.replace(/[\r\n\u2028\u2029\0]+/g, ' ').trim();

const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? 'invalid template';
