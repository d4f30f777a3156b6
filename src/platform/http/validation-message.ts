import { z } from 'zod';

/**
 * How a schema's complaint reads in the API's envelope: `Field 'to[1].email' <what is wrong>`, or the whole
 * message when the complaint is about the request as a whole (an empty path). Schemas give their own wording
 * without the field prefix (`has an invalid email address: "bad@"`); every other check reads as below, so a
 * client sees one style whichever schema refused it.
 */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** `whole` names what an empty path refers to, for the built-in wordings that start in lower case. */
export function issueMessage(issue: { path: readonly PropertyKey[]; message: string }, whole = 'Request body'): string {
  if (issue.path.length > 0) return `Field '${fieldPath(issue.path)}' ${issue.message}`;
  return /^[a-z]/.test(issue.message) ? `${whole} ${issue.message}` : issue.message;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'a boolean',
  object: 'an object',
  array: 'an array',
  date: 'a date',
};

const unit = (origin: string): string => (origin === 'string' ? ' characters' : origin === 'array' || origin === 'set' ? ' items' : '');

/** Our wording for zod's built-in checks (the field prefix is added by issueMessage). */
function defaultWording(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `must be ${TYPE_WORDS[issue.expected] ?? issue.expected}`;
    case 'too_big':
      return `must be at most ${String(issue.maximum)}${unit(issue.origin)}`;
    case 'too_small':
      if (issue.origin === 'string' && Number(issue.minimum) === 1) return 'must not be empty';
      return `must be at least ${String(issue.minimum)}${unit(issue.origin)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_format':
      return `must be a valid ${issue.format}`;
    case 'unrecognized_keys':
      return `has unknown field${issue.keys.length === 1 ? '' : 's'} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
    case 'invalid_union':
      return 'has an unsupported shape';
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    default:
      return undefined;
  }
}

z.config({ customError: defaultWording });

/** The first complaint of a failed parse, as one sentence for the envelope's `message`. */
export function firstIssueMessage(error: z.ZodError, whole?: string): string {
  const issue = error.issues[0];
  return issue ? issueMessage(issue, whole) : 'Invalid request';
}
