import { describe, expect, it } from 'vitest';
import { ApiError } from './errors.js';
import { exceedsDepth, findUnstorable, parseJsonBody } from './json-body.js';

describe('parseJsonBody', () => {
  it('treats an empty body as an empty object', () => {
    expect(parseJsonBody('')).toEqual({});
    expect(parseJsonBody('  \n')).toEqual({});
  });

  it('measures depth outside strings only', () => {
    expect(exceedsDepth('{"a":"[[[[[[[[[[[[[[[["}', 3)).toBe(false);
    expect(exceedsDepth('{"a":{"b":{"c":{}}}}', 3)).toBe(true);
    expect(exceedsDepth('{"a":"\\"{{{{"}', 1)).toBe(false);
  });

  it('refuses deep nesting, malformed text and non-objects with a validation error', () => {
    for (const text of ['['.repeat(10_000), '{"a":', '[1]', '"text"', 'null']) {
      expect(() => parseJsonBody(text)).toThrow(ApiError);
    }
  });

  it('drops __proto__ keys instead of polluting prototypes', () => {
    const parsed = parseJsonBody('{"__proto__":{"polluted":true},"a":1}') as Record<string, unknown>;
    expect(parsed).toEqual({ a: 1 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses NUL characters and unpaired surrogates, naming where they are', () => {
    const message = (text: string) => {
      try {
        parseJsonBody(text);
      } catch (err) {
        return (err as ApiError).message;
      }
      return null;
    };
    expect(message('{"metadata":{"note":"a\\u0000b"}}')).toBe("Field 'metadata.note' must not contain NUL characters (\\u0000)");
    expect(message('{"to":["a@x.io","\\u0000"]}')).toBe("Field 'to[1]' must not contain NUL characters (\\u0000)");
    expect(message('{"tags":["\\udc00"]}')).toMatch(/^Field 'tags\[0\]' must not contain unpaired surrogates/);
    expect(message('{"a":{"\\uD800x":1}}')).toMatch(/^Field 'a' must not contain unpaired surrogates/);
    expect(message('{"ok":"\\ud83d\\ude00","escaped":"\\\\u0000"}')).toBeNull();
  });

  it('builds the path only for what it finds and bounds its length', () => {
    expect(findUnstorable({ a: [{ b: 'x' }, { c: ['y', 'z\0'] }] })).toEqual({ path: 'a[1].c[1]', reason: 'nul' });
    const longKey = 'k'.repeat(1000);
    expect(findUnstorable({ [longKey]: '\0' })!.path).toHaveLength(201);
    expect(findUnstorable({ a: Array.from({ length: 1_000_000 }, () => 'clean') })).toBeNull();
  });
});
