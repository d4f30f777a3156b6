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
  // JSON text can carry a NUL or a lone surrogate only as a \u escape: text without one needs no walk
  if (UNSTORABLE_ESCAPE.test(text)) {
    const found = findUnstorable(value);
    if (found) throw new ApiError('VALIDATION_ERROR', `Field '${found.path}' ${UNSTORABLE_MESSAGES[found.reason]}`);
  }
  return value;
}

const UNSTORABLE_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/;
const NUL = '\0';
/** a high surrogate not followed by a low one, or a low one not preceded by a high one */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const UNSTORABLE_MESSAGES = {
  nul: 'must not contain NUL characters (\\u0000)',
  surrogate: 'must not contain unpaired surrogates (\\uD800-\\uDFFF): it is not valid Unicode',
} as const;

export type Unstorable = { path: string; reason: keyof typeof UNSTORABLE_MESSAGES };

const unstorable = (s: string): Unstorable['reason'] | null => (s.includes(NUL) ? 'nul' : LONE_SURROGATE.test(s) ? 'surrogate' : null);

const MAX_PATH_LENGTH = 200;

/**
 * Where (`metadata.note`, `to[1]`, `params.items[0].name`) a string or object key holds a NUL character or an
 * unpaired surrogate, or null. PostgreSQL stores neither (in text or jsonb), so such a value would fail at the
 * database instead of as a validation error. One pass over the parsed value with an explicit stack; the path
 * is put together only for the value found. A key is reported by the path of the object holding it.
 */
export function findUnstorable(root: unknown): Unstorable | null {
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
      const inKey = typeof key === 'string' ? unstorable(key) : null;
      if (inKey) return { path: pathTo(at, null) || 'body', reason: inKey };
      if (typeof child === 'string') {
        const inValue = unstorable(child);
        if (inValue) return { path: pathTo(at, key), reason: inValue };
      } else if (child !== null && typeof child === 'object') {
        trail.push({ parent: at, key });
        stack.push({ value: child, at: trail.length - 1 });
      }
    }
  }
  return null;
}
