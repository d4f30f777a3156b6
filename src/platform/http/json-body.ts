import { ApiError } from './errors.js';

export const MAX_JSON_DEPTH = 64;

/** Finds nesting deeper than the limit before JSON.parse can recurse into it. */
export function exceedsDepth(text: string, limit = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > limit) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

/** An empty body is an empty object (clients POST with a JSON content type and no body); the top level must be an object. */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return {};
  if (exceedsDepth(text)) throw new ApiError('VALIDATION_ERROR', `JSON is nested deeper than ${MAX_JSON_DEPTH} levels`);
  let value: unknown;
  try {
    value = JSON.parse(text, (key, v: unknown) => (key === '__proto__' ? undefined : v));
  } catch (err) {
    throw new ApiError('VALIDATION_ERROR', `Malformed JSON body: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ApiError('VALIDATION_ERROR', 'Request body must be a JSON object');
  }
  return value;
}
