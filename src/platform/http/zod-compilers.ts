import fastJson from 'fast-json-stringify';
import type { FastifySchemaCompiler, FastifySerializerCompiler } from 'fastify';
import { z } from 'zod';
import { ApiError } from './errors.js';
import { firstIssueMessage } from './validation-message.js';

/** What an empty issue path refers to in each part of the request (validation-message.ts, `whole`). */
const WHOLE: Record<string, string> = {
  body: 'Request body',
  querystring: 'Query string',
  params: 'Path',
  headers: 'Request headers',
};

/** How a field of each part is named in a complaint, so a query or path parameter does not read as a body field. */
const FIELD_WORD: Record<string, string> = { querystring: 'Query parameter', params: 'Path parameter', headers: 'Header' };

const isZod = (schema: unknown): schema is z.ZodType => schema instanceof z.ZodType;

/**
 * Route schemas are zod: a failed parse is 400 VALIDATION_ERROR with the one wording of validation-message.ts
 * (`Field 'to[1]' …` in a body, `Query parameter 'limit' …` in a query string). An ApiError a schema throws
 * while parsing (a check that needs its own code) keeps its own envelope. Schemas that are not zod (a plugin's
 * JSON Schema) are not checked here.
 */
export const zodValidatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  if (!isZod(schema)) return (data: unknown) => ({ value: data });
  const part = httpPart ?? 'body';
  return (data: unknown) => {
    try {
      return { value: parseRequestPart(schema, data, part) };
    } catch (err) {
      if (err instanceof ApiError) return { error: err };
      throw err;
    }
  };
};

/** One part of a request through its schema, refused as a route refuses it (an ApiError). */
export function parseRequestPart<T>(schema: z.ZodType<T>, data: unknown, part = 'body'): T {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  throw new ApiError('VALIDATION_ERROR', repeatedParameter(result.error, data, part) ?? complaint(result.error, part));
}

/**
 * `?id=a&id=b` parses to a list: where the schema wanted one value, say that it was given twice rather than
 * that a list is not a string.
 */
function repeatedParameter(error: z.ZodError, data: unknown, part: string): string | null {
  const issue = error.issues[0];
  if (part !== 'querystring' || issue?.code !== 'invalid_type' || issue.path.length !== 1 || data === null || typeof data !== 'object') return null;
  const name = String(issue.path[0]);
  if (!Array.isArray((data as Record<string, unknown>)[name])) return null;
  return `Query parameter '${name.slice(0, 100)}' is given more than once; give it once`;
}

function complaint(error: z.ZodError, part: string): string {
  const message = firstIssueMessage(error, WHOLE[part]);
  const word = FIELD_WORD[part];
  return word && message.startsWith("Field '") ? `${word} ${message.slice('Field '.length)}` : message;
}

/**
 * Responses are written by fast-json-stringify (fastify's own serializer) compiled from the JSON Schema of the
 * route's zod response schema, not parsed by zod on every answer: a declared response costs less than
 * JSON.stringify. It writes only declared properties, so a response schema lists every field it answers with
 * (an object with free-form content is declared open).
 */
export const zodSerializerCompiler: FastifySerializerCompiler<unknown> = ({ schema }) => {
  if (!isZod(schema)) return (data: unknown) => JSON.stringify(data);
  return fastJson(responseJsonSchema(schema) as unknown as Parameters<typeof fastJson>[0]);
};

/** The JSON Schema a response is written by: the output side, without the document's names and examples. */
export function responseJsonSchema(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, { io: 'output', target: 'draft-7', unrepresentable: 'any', metadata: z.registry() }) as Record<string, unknown>;
}
