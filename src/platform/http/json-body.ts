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
  // JSON can only carry a NUL escaped, so text without the escape cannot hold one and needs no walk.
  if (text.includes('\\u0000')) {
    const path = findNul(value);
    if (path !== null) throw new ApiError('VALIDATION_ERROR', `Field '${path}' must not contain NUL characters (\\u0000)`);
  }
  return value;
}

const MAX_PATH_LENGTH = 200;

/**
 * The path (`metadata.note`, `to[1]`, `params.items[0].name`) of a string or object key holding a NUL
 * character, or null. PostgreSQL stores neither in text nor in jsonb, so such a value would fail at the
 * database instead of as a validation error. One pass over the parsed value with an explicit stack; the path
 * is put together only for the value found.
 */
export function findNul(root: unknown): string | null {
  // each container visited: where it hangs (its parent's index in `trail` and its key there)
  const trail: { parent: number; key: string | number }[] = [];
  const stack: { value: object; at: number }[] = [{ value: root as object, at: -1 }];
  const pathTo = (at: number, key: string | number | null): string => {
    const keys: (string | number)[] = key === null ? [] : [key];
    for (let i = at; i >= 0; i = trail[i]!.parent) keys.push(trail[i]!.key);
    let path = '';
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i]!;
      path += typeof k === 'number' ? `[${k}]` : path === '' ? k : `.${k}`;
    }
    return path.length > MAX_PATH_LENGTH ? `${path.slice(0, MAX_PATH_LENGTH)}…` : path;
  };
  while (stack.length > 0) {
    const { value, at } = stack.pop()!;
    const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    for (const [key, child] of entries) {
      if (typeof key === 'string' && key.includes('\0')) return pathTo(at, null) || 'body';
      if (typeof child === 'string') {
        if (child.includes('\0')) return pathTo(at, key);
      } else if (child !== null && typeof child === 'object') {
        trail.push({ parent: at, key });
        stack.push({ value: child, at: trail.length - 1 });
      }
    }
  }
  return null;
}
