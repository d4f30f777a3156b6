import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ApiError } from './errors.js';
import { zodSerializerCompiler, zodValidatorCompiler } from './zod-compilers.js';

const validate = (schema: unknown, httpPart: string, data: unknown) =>
  (zodValidatorCompiler({ schema, httpPart, method: 'GET', url: '/x' }) as (d: unknown) => { value?: unknown; error?: Error })(data);
const serialize = (schema: unknown, data: unknown) => (zodSerializerCompiler({ schema, method: 'GET', url: '/x', httpStatus: '200' }) as (d: unknown) => string)(data);

describe('route schema compilers', () => {
  it('answers a failed parse as VALIDATION_ERROR in the wording of the part that failed', () => {
    const body = validate(z.object({ to: z.array(z.email()) }), 'body', { to: ['a@example.org', 3] });
    expect(body.error).toBeInstanceOf(ApiError);
    expect(body.error).toMatchObject({ code: 'VALIDATION_ERROR', status: 400, message: "Field 'to[1]' must be a string" });
    expect(validate(z.object({ limit: z.string() }), 'querystring', {}).error?.message).toBe("Query parameter 'limit' is required");
    expect(validate(z.object({ id: z.string().max(3) }), 'params', { id: 'abcd' }).error?.message).toBe("Path parameter 'id' must be at most 3 characters");
    expect(validate(z.object({}), 'body', 'text').error?.message).toBe('Request body must be an object');
  });

  it('gives the parsed value to the handler', () => {
    expect(validate(z.object({ n: z.string().transform(Number) }), 'querystring', { n: '4', other: 'x' })).toEqual({ value: { n: 4 } });
  });

  it('keeps the code and message of an ApiError thrown while parsing, and lets other errors through', () => {
    const refusing = z.string().transform(() => {
      throw new ApiError('IDEMPOTENCY_CONFLICT', 'no');
    });
    expect(validate(refusing, 'body', 'x').error).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT', status: 409, message: 'no' });
    const broken = z.string().transform(() => {
      throw new TypeError('bug');
    });
    expect(() => validate(broken, 'body', 'x')).toThrow(TypeError);
  });

  it('does not check schemas that are not zod', () => {
    expect(validate({ type: 'object' }, 'body', 42)).toEqual({ value: 42 });
  });

  it('writes a response by its schema: declared fields only, open objects whole', () => {
    const schema = z.object({ id: z.string(), n: z.number().nullable(), meta: z.record(z.string(), z.unknown()), extra: z.looseObject({ a: z.string() }) });
    const out = serialize(schema, { id: 'x', n: null, meta: { k: [1] }, extra: { a: 'b', c: 1 }, secret: 'not declared' });
    expect(JSON.parse(out)).toEqual({ id: 'x', n: null, meta: { k: [1] }, extra: { a: 'b', c: 1 } });
    expect(out).toBe(JSON.stringify({ id: 'x', n: null, meta: { k: [1] }, extra: { a: 'b', c: 1 } }));
  });
});
