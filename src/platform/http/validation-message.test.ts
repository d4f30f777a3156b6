import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fieldPath, firstIssueMessage } from './validation-message.js';

const messageOf = (schema: z.ZodType, input: unknown): string => {
  const result = schema.safeParse(input);
  if (result.success) throw new Error('expected a refusal');
  return firstIssueMessage(result.error);
};

describe('validation messages', () => {
  it('renders paths as a client writes them', () => {
    expect(fieldPath(['to', 1, 'email'])).toBe('to[1].email');
    expect(fieldPath([])).toBe('');
  });

  it('keeps a schema’s own wording and prefixes the field', () => {
    const address = z.string().refine((s) => !s.endsWith('@'), { error: (iss) => `has an invalid email address: ${JSON.stringify(iss.input)}` });
    expect(messageOf(z.object({ to: z.array(address) }), { to: ['a@b.co', 'bad@'] })).toBe(`Field 'to[1]' has an invalid email address: "bad@"`);
  });

  it('words built-in checks in one style', () => {
    expect(messageOf(z.object({ a: z.string() }), {})).toBe("Field 'a' is required");
    expect(messageOf(z.object({ a: z.string() }), { a: 1 })).toBe("Field 'a' must be a string");
    expect(messageOf(z.object({ a: z.string().max(3) }), { a: 'abcd' })).toBe("Field 'a' must be at most 3 characters");
    expect(messageOf(z.object({ a: z.array(z.number()).max(1) }), { a: [1, 2] })).toBe("Field 'a' must be at most 1 items");
    expect(messageOf(z.object({ a: z.enum(['x', 'y']) }), { a: 'z' })).toBe(`Field 'a' must be one of "x", "y"`);
    expect(messageOf(z.strictObject({ a: z.string().optional() }), { b: 1 })).toBe("Request body has unknown field 'b'");
    expect(messageOf(z.object({ a: z.object({}).strict() }), { a: { b: 1, c: 2 } })).toBe("Field 'a' has unknown fields 'b', 'c'");
  });

  it('gives a whole-request complaint without a field', () => {
    expect(messageOf(z.object({}), 'text')).toBe('Request body must be an object');
    expect(messageOf(z.string().refine(() => false, 'Fields \'a\' and \'b\' cannot be combined'), 'x')).toBe("Fields 'a' and 'b' cannot be combined");
  });
});
