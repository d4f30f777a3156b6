import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyseTemplate, measureData } from './check.js';
import { BudgetExceededError, compile, parse, renderField, TemplateSourceError, type TemplateField } from './engine.js';

const strict = (source: string, field: TemplateField = 'html') => analyseTemplate(parse(source, field), field, true);

describe('save-time template checks', () => {
  it.each([
    ['{{> nope}}', /line 1: the partial 'nope' does not exist/],
    ['<p>\n{{#> layout}}x{{/layout}}', /line 2: the partial 'layout' does not exist/],
    ['{{* deco}}', /decorators/],
    ['{{#*inline "row"}}x{{/inline}}{{> row}}', /decorators|partial/],
    ['{{log "hello"}}', /\{\{log\}\} is not available/],
    ['{{#log}}x{{/log}}', /\{\{log\}\} is not available/],
    ['{{helperMissing a}}', /not available/],
    ['{{foo bar}}', /'foo' is not a helper/],
    ['{{#foo bar}}x{{/foo}}', /'foo' is not a helper/],
    ['{{#if (foo bar)}}x{{/if}}', /'foo' is not a helper/],
    ['{{a.b c}}', /'a.b' is not a helper/],
    ['{{"str" a}}', /"str" is not a helper/],
    ['{{#if}}x{{/if}}', /\{\{#if\}\} takes exactly one value/],
    ['{{#if a b}}x{{/if}}', /\{\{#if\}\} takes exactly one value/],
    ['{{#each}}x{{/each}}', /\{\{#each\}\} takes exactly one value/],
    ['{{if a}}', /'if' needs a block/],
    ['{{each items}}', /'each' needs a block/],
    ['{{#if (with a)}}x{{/if}}', /'with' needs a block/],
    ['{{#if a}}x{{else foo b}}y{{/if}}', /'foo' is not a helper/],
    ['{{lookup a}}', /\{\{lookup\}\} takes an object and a key/],
  ])('refuses %s, which compiles but fails when rendered', (source, message) => {
    expect(() => strict(source)).toThrow(TemplateSourceError);
    expect(() => strict(source)).toThrow(message);
  });

  it.each([
    '{{#each items as |x i|}}{{i}}:{{x}}{{else}}none{{/each}}',
    '{{#if (eq a b)}}same{{else if c}}c{{/if}}',
    '{{#unless a}}x{{/unless}}{{#with order}}{{id}}{{/with}}',
    '{{plain}} {{nested.path}} {{../up}} {{@root.x}} {{this}}',
    '{{#list}}[{{title}}]{{/list}}',
    '{{formatDate when "dd LLL" tz="Europe/Paris"}} {{default a "b"}} {{uppercase a}} {{lowercase a}} {{urlEncode a}} {{lookup order "id"}}',
    '{{!-- a comment --}}{{{raw}}}',
  ])('accepts %s', (source) => {
    expect(() => strict(source)).not.toThrow();
  });

  it('reports the field and line of a syntax error', () => {
    expect(() => parse('a\n{{#if x}}', 'text')).toThrow(/Template text has a syntax error/);
  });

  it('bounds what one pass outputs by fixed + perValue × the longest text one value prints as', () => {
    const source = '<p>{{formatDate when "FFFF" tz="America/New_York"}} {{urlEncode q}} {{name}} {{uppercase name}} {{#if a}}{{{raw}}}{{/if}} {{list}} {{urlEncode list}} {{n}} {{o}} {{lookup o "k"}} {{default missing list}}</p>';
    const cost = strict(source);
    const template = compile(source, 'html');
    const text = fc.string({ unit: 'binary', maxLength: 40 });
    // an object whose toString or valueOf is not a function cannot be printed at all: that render fails with a
    // 400 (templates service), so it has no output to bound
    const key = text.filter((k) => k !== 'toString' && k !== 'valueOf');
    const value = fc.oneof(text, fc.double(), fc.integer(), fc.boolean(), fc.constant(null));
    const data = fc.record({
      when: fc.constantFrom('2026-06-01T09:00:00Z', 'x'),
      q: text,
      name: text,
      a: fc.boolean(),
      raw: text,
      list: fc.array(fc.oneof(value, fc.array(value, { maxLength: 5 }), fc.dictionary(key, value, { maxKeys: 3, noNullPrototype: true })), { maxLength: 20 }),
      n: fc.double(),
      o: fc.dictionary(key, value, { maxKeys: 4, noNullPrototype: true }),
    });
    fc.assert(
      fc.property(data, (d) => {
        expect(template(d).length).toBeLessThanOrEqual(cost.fixed + cost.perValue * measureData(d, Infinity).largest);
      }),
    );
  });

  it('measures data up to a cap only', () => {
    expect(measureData({ a: 'xy', b: [1, 2] }, 1000)).toEqual({ total: 16 + 1 + 10 + 1 + 16 + 1 + 24 + 1 + 24, largest: 50 });
    expect(measureData({ rows: [{ a: 'x'.repeat(30) }, { a: 'y' }] }, 1000).largest).toBe(32); // two "[object Object]" and a comma each
    expect(measureData({ big: 'x'.repeat(1000) }, 100).total).toBe(Infinity);
    expect(measureData(Array.from({ length: 1_000_000 }, () => 0), 100).total).toBe(Infinity);
  });
});

describe('loop budget while rendering', () => {
  const nested = compile('{{#each a}}{{#each ../a}}<{{this}}>{{/each}}{{/each}}', 'html');
  const data = { a: [1, 2, 3] };
  const exact = '<1><2><3>'.repeat(3).length;

  it('counts each iteration once, nested loops included', () => {
    expect(renderField(nested, 'html', data, { maxBytes: exact, maxSteps: 12 })).toHaveLength(exact);
    expect(() => renderField(nested, 'html', data, { maxBytes: exact - 1, maxSteps: 12 })).toThrow(BudgetExceededError);
    expect(() => renderField(nested, 'html', data, { maxBytes: exact, maxSteps: 11 })).toThrow(/steps budget/);
  });

  it('charges formatDate, which costs as much as dozens of iterations', () => {
    const dates = compile('{{#each a}}{{formatDate @root.w}}{{/each}}', 'text');
    const twenty = { a: Array.from({ length: 20 }, () => 0), w: '2026-06-01T09:00:00Z' };
    expect(() => renderField(dates, 'text', twenty, { maxBytes: 10_000, maxSteps: 500 })).toThrow(/steps budget/);
    expect(renderField(dates, 'text', twenty, { maxBytes: 10_000, maxSteps: 5000 })).toBe('2026-06-01'.repeat(20));
  });

  it('stops the nested-each blow-up early instead of building it', () => {
    const blowUp = compile('{{#each a}}{{#each ../a}}{{#each ../../a}}<p>{{this}}</p>{{/each}}{{/each}}{{/each}}', 'html');
    const a = Array.from({ length: 250 }, (_, i) => i);
    const started = performance.now();
    expect(() => renderField(blowUp, 'html', { a }, { maxBytes: 512 * 1024, maxSteps: Infinity })).toThrow(BudgetExceededError);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('limits the whole field in UTF-8 bytes, and leaves no budget behind for the next render', () => {
    const plain = compile('{{x}}', 'text');
    expect(() => renderField(plain, 'text', { x: 'é'.repeat(6) }, { maxBytes: 11, maxSteps: 0 })).toThrow(BudgetExceededError);
    expect(renderField(plain, 'text', { x: 'é'.repeat(6) }, { maxBytes: 12, maxSteps: 0 })).toBe('é'.repeat(6));
    expect(nested(data)).toHaveLength(exact);
  });
});
