import { describe, expect, it } from 'vitest';
import { compile, missingVariables, TemplateSourceError } from './engine.js';

describe('template engine', () => {
  it('HTML-escapes variables in html, keeps triple braces raw, and does not escape subject or text', () => {
    const ctx = { name: '<b>Tom & Jerry</b>' };
    expect(compile('Hi {{name}}', 'html')(ctx)).toBe('Hi &lt;b&gt;Tom &amp; Jerry&lt;/b&gt;');
    expect(compile('Hi {{{name}}}', 'html')(ctx)).toBe('Hi <b>Tom & Jerry</b>');
    expect(compile('Hi {{name}}', 'subject')(ctx)).toBe('Hi <b>Tom & Jerry</b>');
    expect(compile('Hi {{name}}', 'text')(ctx)).toBe('Hi <b>Tom & Jerry</b>');
  });

  it('has helpers for dates, defaults, case and URL escaping', () => {
    const tpl = compile('{{formatDate when "dd LLL yyyy HH:mm" tz="Europe/Paris"}}|{{default nickname "friend"}}|{{uppercase code}}|{{urlEncode q}}', 'html');
    expect(tpl({ when: '2026-06-01T09:00:00Z', code: 'ab12', q: 'a b&c' })).toBe('01 Jun 2026 11:00|friend|AB12|a%20b%26c');
    expect(compile('{{formatDate when}}', 'html')({ when: 1780304400000 })).toBe('2026-06-01');
    expect(compile('{{formatDate when}}', 'html')({ when: 'not a date' })).toBe('');
  });

  it('renders a variable that is not passed as empty (only declared required ones are enforced)', () => {
    expect(compile('Hello {{missing}}!', 'html')({})).toBe('Hello !');
  });

  it('finds missing required variables by dotted path', () => {
    expect(missingVariables(['name', 'order.id', 'order.total'], { name: 'A', order: { id: 7, total: '' } })).toEqual(['order.total']);
    expect(missingVariables(['a'], {})).toEqual(['a']);
  });

  it('reports syntax errors with the field', () => {
    expect(() => compile('Hello {{#if}}', 'html')).toThrow(TemplateSourceError);
    expect(() => compile('{{#each items}}x', 'subject')).toThrow(/subject/);
  });
});
