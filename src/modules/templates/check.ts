import { TemplateSourceError, VALUE_HELPERS, type TemplateAst, type TemplateField } from './engine.js';

/** Handlebars' block helpers: each takes exactly one value and needs a block. */
const BLOCK_HELPERS: ReadonlySet<string> = new Set(['if', 'unless', 'each', 'with']);
/** Handlebars' own helpers a template may not call: `log` writes to the server's log; the others are its internals. */
const REFUSED_HELPERS: ReadonlySet<string> = new Set(['log', 'helperMissing', 'blockHelperMissing']);

/**
 * How much one value can grow on its way out: escaping turns `"` into `&quot;` (6), urlEncode one character
 * into up to 9, and a luxon format token such as `FFFF` into about 14 times its length.
 */
const AMPLIFICATION = 16;

/**
 * A bound on what one pass over a template outputs, loops counted once: at most `fixed + perValue × D`
 * characters, where D is the longest text one value of the data prints as (measureData): every expression
 * outputs at most one value. Loops are bounded while rendering (engine.ts).
 */
export interface TemplateCost {
  fixed: number;
  perValue: number;
  /** false when partials or decorators make the bound unknowable (a stored template saved before they were refused) */
  bounded: boolean;
}

type Expression = hbs.AST.Expression;
type Call = { path: hbs.AST.PathExpression | hbs.AST.Literal; params: Expression[]; hash?: hbs.AST.Hash; loc: hbs.AST.SourceLocation };

/**
 * Walks a parsed template once: returns its cost bound and, with `strict` (at save), refuses every construct
 * that compiles but fails when rendered: partials (none exist), decorators, calls to helpers that do not exist,
 * block helpers without a block or with the wrong number of values, and `{{log}}`.
 */
export function analyseTemplate(ast: TemplateAst, field: TemplateField, strict: boolean): TemplateCost {
  const cost: TemplateCost = { fixed: 0, perValue: 0, bounded: true };
  const refuse = (node: { loc?: hbs.AST.SourceLocation }, problem: string): void => {
    if (strict) throw new TemplateSourceError(field, `Template ${field}, line ${node.loc?.start.line ?? 1}: ${problem}`);
  };

  const checkCall = (node: Call, kind: 'mustache' | 'block' | 'subexpression'): void => {
    const path = node.path;
    if (path.type !== 'PathExpression') {
      if (node.params.length > 0) refuse(node, `${literalText(path)} is not a helper`);
      return;
    }
    const p = path as hbs.AST.PathExpression;
    // Handlebars calls a helper only for a plain name: not this.x, ../x or @x
    const name = p.parts.length === 1 && p.depth === 0 && !p.data && !/^\.|this\b/.test(p.original) ? p.parts[0]! : null;
    if (name !== null && REFUSED_HELPERS.has(name)) refuse(node, `{{${name}}} is not available in templates`);
    else if (name !== null && BLOCK_HELPERS.has(name)) {
      if (kind !== 'block') refuse(node, `'${name}' needs a block: {{#${name} value}}…{{/${name}}}`);
      else if (node.params.length !== 1) refuse(node, `{{#${name}}} takes exactly one value`);
    } else if (name !== null && VALUE_HELPERS.has(name)) {
      if (name === 'lookup' && node.params.length !== 2) refuse(node, '{{lookup}} takes an object and a key');
    } else if (node.params.length > 0) {
      refuse(node, `'${p.original}' is not a helper (helpers: ${[...BLOCK_HELPERS, ...VALUE_HELPERS].join(', ')})`);
    }
  };

  // An explicit stack rather than recursion: nesting depth is the template author's choice.
  const stack: hbs.AST.Node[] = [ast];
  for (let node = stack.pop(); node; node = stack.pop()) {
    switch (node.type) {
      case 'Program':
        stack.push(...(node as hbs.AST.Program).body);
        break;
      case 'ContentStatement':
        cost.fixed += (node as hbs.AST.ContentStatement).value.length;
        break;
      case 'MustacheStatement':
      case 'SubExpression':
      case 'BlockStatement': {
        const call = node as hbs.AST.MustacheStatement | hbs.AST.SubExpression | hbs.AST.BlockStatement;
        checkCall(call, node.type === 'MustacheStatement' ? 'mustache' : node.type === 'BlockStatement' ? 'block' : 'subexpression');
        cost.perValue += AMPLIFICATION;
        cost.fixed += AMPLIFICATION * (literalLength(call.params) + literalLength((call.hash?.pairs ?? []).map((pair) => pair.value)));
        stack.push(...call.params, ...(call.hash?.pairs ?? []).map((pair) => pair.value));
        if (node.type === 'BlockStatement') {
          const block = node as hbs.AST.BlockStatement;
          if (block.program) stack.push(block.program);
          if (block.inverse) stack.push(block.inverse);
        }
        break;
      }
      case 'PartialStatement':
      case 'PartialBlockStatement': {
        const partial = node as hbs.AST.PartialStatement;
        const name = partial.name.type === 'PathExpression' ? (partial.name as hbs.AST.PathExpression).original : '(a dynamic name)';
        refuse(node, `the partial '${name}' does not exist: templates cannot use partials`);
        cost.bounded = false;
        break;
      }
      case 'Decorator':
      case 'DecoratorBlock': {
        const decorator = node as hbs.AST.Decorator;
        const name = decorator.path.type === 'PathExpression' ? (decorator.path as hbs.AST.PathExpression).original : '';
        refuse(node, `decorators ({{* ${name}}}, {{#* ${name}}}) are not available in templates`);
        cost.bounded = false;
        break;
      }
      default:
        // comments, paths, literals, hashes: nothing to check or count
        break;
    }
  }
  return cost;
}

function literalLength(expressions: readonly Expression[]): number {
  let total = 0;
  for (const e of expressions) if (e.type === 'StringLiteral') total += (e as hbs.AST.StringLiteral).value.length;
  return total;
}

function literalText(literal: hbs.AST.Literal): string {
  const value = (literal as { original?: unknown }).original;
  return JSON.stringify(value === undefined ? null : value);
}

export interface DataMeasure {
  /** the size of the data: strings count their length + 8, other values 24, objects and arrays 16 plus their entries */
  total: number;
  /** the longest text any one value of the data prints as (at least 24: a number), the bound's D */
  largest: number;
}

/** Values nested deeper than any JSON body the server accepts (64 levels) count as too large. */
const MAX_DEPTH = 100;

/**
 * Measures template data, stopping once `total` passes `cap` (both are then Infinity). `total` is also about
 * what copying the data to a thread costs (measured: 1 M of it copies in at most 15 ms, whatever its shape).
 * A value prints as Handlebars writes it: a string as itself, an object as "[object Object]", an array as its
 * items joined by commas.
 */
export function measureData(value: unknown, cap: number): DataMeasure {
  let total = 0;
  let largest = 24;
  /** returns how long `v` prints */
  const visit = (v: unknown, depth: number): number => {
    if (typeof v === 'string') {
      total += v.length + 8;
      if (v.length > largest) largest = v.length;
      return v.length;
    }
    if (v === null || typeof v !== 'object') {
      total += 24;
      return 24;
    }
    if (depth > MAX_DEPTH) {
      total = Infinity;
      return 0;
    }
    total += 16;
    if (Array.isArray(v)) {
      let printed = 0;
      for (const item of v) {
        total += 1;
        printed += visit(item, depth + 1) + 1;
        if (total > cap) return printed;
      }
      if (printed > largest) largest = printed;
      return printed;
    }
    for (const key in v) {
      if (!Object.hasOwn(v, key)) continue;
      total += key.length;
      if (key.length > largest) largest = key.length;
      visit((v as Record<string, unknown>)[key], depth + 1);
      if (total > cap) return 15;
    }
    return 15;
  };
  visit(value, 0);
  return total > cap ? { total: Infinity, largest: Infinity } : { total, largest };
}
