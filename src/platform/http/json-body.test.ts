import { describe, expect, it } from 'vitest';
import { ApiError } from './errors.js';
import { exceedsDepth, parseJsonBody } from './json-body.js';

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
});
