import { isIP } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';

const MAX_NAME = 253;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

export type DomainNameResult = { ok: true; ascii: string; unicode: string } | { ok: false; reason: string };

/**
 * Checks a mail domain by its syntax alone (no registry look-up, so private and reserved names such as
 * example.test work) and returns it in A-label form, lowercase, without a trailing dot.
 */
export function normalizeDomainName(input: string): DomainNameResult {
  const raw = input.trim().replace(/\.$/, '');
  if (raw === '') return { ok: false, reason: 'is empty' };
  if (/[\s@/:\\[\]]/.test(raw)) return { ok: false, reason: 'must be a bare domain name such as mail.example.com (no scheme, path, port or @)' };
  if (isIP(raw)) return { ok: false, reason: 'must be a domain name, not an IP address' };
  const ascii = domainToASCII(raw.toLowerCase());
  if (ascii === '') return { ok: false, reason: 'is not a valid domain name' };
  if (ascii.length > MAX_NAME) return { ok: false, reason: `is longer than ${MAX_NAME} characters` };
  const labels = ascii.split('.');
  if (labels.length < 2) return { ok: false, reason: 'needs at least two labels, e.g. example.com' };
  const bad = labels.find((l) => !LABEL.test(l));
  if (bad !== undefined) return { ok: false, reason: `has an invalid label "${bad}" (letters, digits and inner hyphens, 1-63 characters)` };
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return { ok: false, reason: 'must not end in a numeric label' };
  return { ok: true, ascii, unicode: domainToUnicode(ascii) };
}

/** The domain of an address, lowercase A-labels; '' when there is none. */
export function domainOfAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 0) return '';
  const domain = address.slice(at + 1).trim().replace(/\.$/, '').toLowerCase();
  return domainToASCII(domain) || domain;
}

/** True when `name` is `domain` itself or a name below it. */
export function isWithinDomain(name: string, domain: string): boolean {
  return name === domain || name.endsWith(`.${domain}`);
}
