import type { MailAddress } from '../../platform/mail/types.js';
import { SEND_LIMITS } from './limits.js';

// Deliberately strict about characters that could break out of an address or a header.
const ADDRESS_PATTERN = /^[^\s@<>(),;:"[\]\\]+@[^\s@<>(),;:"[\]\\]+\.[^\s@<>(),;:"[\]\\.]+[^\s@<>(),;:"[\]\\]*$/;
/** Anything that would end a header line, and NUL (which PostgreSQL cannot store). */
export const LINE_BREAK = /[\r\n\u2028\u2029\0]/;

/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets, angle brackets included. */
const MAX_EMAIL_LENGTH = 254;
/** The request limits (limits.ts), applied again here to entries the request-level pass does not see (nested, comma-split). */
export const MAX_DISPLAY_NAME_LENGTH = SEND_LIMITS.nameChars;
/** `"Display Name" <address>`: room for the name, the address, quotes, brackets and spaces around them. */
export const MAX_ADDRESS_STRING_LENGTH = SEND_LIMITS.addressEntryChars;

export function isValidEmail(email: string): boolean {
  return email.length <= MAX_EMAIL_LENGTH && ADDRESS_PATTERN.test(email) && !LINE_BREAK.test(email);
}

/** What is wrong with a value, worded for validation-message.ts (the field is named by the caller). */
export interface Problem {
  problem: string;
}

export const displayNameTooLong = (): Problem => ({ problem: `has a display name longer than ${MAX_DISPLAY_NAME_LENGTH} characters` });

/** "Jane <jane@x.io>" or a bare address; its length is checked before any pattern reads it. */
export function readAddress(raw: string): MailAddress | Problem {
  if (raw.length > MAX_ADDRESS_STRING_LENGTH) return { problem: `is longer than ${MAX_ADDRESS_STRING_LENGTH} characters` };
  if (LINE_BREAK.test(raw)) return { problem: 'must not contain line breaks' };
  const value = raw.trim();
  const angle = /^(.*)<([^<>]+)>$/.exec(value);
  const email = (angle ? angle[2]! : value).trim();
  const name = angle ? angle[1]!.trim().replace(/^"(.*)"$/, '$1').trim() : undefined;
  if (!isValidEmail(email)) return { problem: `has an invalid email address: ${JSON.stringify(email.slice(0, 100))}` };
  if (name && name.length > MAX_DISPLAY_NAME_LENGTH) return displayNameTooLong();
  return name ? { email, name } : { email };
}

/** A comma-separated list of bare addresses ("a@x.io, b@x.io"); a "<" means one "Name <address>" string. */
export const isCommaList = (raw: string): boolean => raw.includes(',') && !raw.includes('<');
