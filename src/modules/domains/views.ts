import { domainToUnicode } from 'node:url';
import type { DomainDkimKeyRow, DomainEventRow, DomainRow } from '../../platform/db/schema.js';
import { DKIM_KEY_BITS } from '../../platform/mail/dkim/dkim-keys.js';
import type { DnsRecordSpec } from './dns-records.js';
import { RETIRED_KEY_LISTED_MS } from './store.js';
import type { RecordCheck } from './verification.js';

const iso = (d: Date | null): string | null => d?.toISOString() ?? null;

const sameRecord = (spec: DnsRecordSpec, check: RecordCheck): boolean =>
  check.purpose === spec.purpose && check.name === spec.name && (check.selector ?? null) === (spec.selector ?? null);

/** The record as the API shows it: what to publish, why, and what the last check saw. */
function recordView(spec: DnsRecordSpec, checks: RecordCheck[], keys: DomainDkimKeyRow[]) {
  const check = checks.find((c) => sameRecord(spec, c));
  const retired = spec.purpose === 'dkim_retiring' ? keys.find((k) => k.selector === spec.selector && k.retired_at) : undefined;
  return {
    type: spec.type,
    name: spec.name,
    value: spec.value,
    priority: spec.priority,
    purpose: spec.purpose,
    required: spec.required,
    // a retiring key is not checked: it may be deleted once `delete_after` has passed
    status: retired ? 'retiring' : (check?.status ?? 'pending'),
    found: check?.found ?? null,
    reason: check?.reason ?? null,
    checked_at: check?.checked_at ?? null,
    ...(retired ? { delete_after: new Date(retired.retired_at!.getTime() + RETIRED_KEY_LISTED_MS).toISOString() } : {}),
    description: spec.description,
  };
}

/** The domain as every endpoint returns it (the spec's fields, plus ours). */
export function domainView(row: DomainRow, specs: DnsRecordSpec[], keys: DomainDkimKeyRow[]) {
  const checks = row.checks as RecordCheck[];
  const active = keys.find((k) => k.status === 'active');
  const pending = keys.find((k) => k.status === 'pending');
  const unicode = domainToUnicode(row.name);
  return {
    id: row.id,
    domain: row.name,
    ...(unicode !== row.name ? { domain_unicode: unicode } : {}),
    verification_status: row.verification_status,
    mail_from_status: row.mail_from_status,
    mail_from_domain: row.mail_from_domain,
    region: row.region,
    verified_at: iso(row.verified_at),
    mail_from_verified_at: iso(row.mail_from_verified_at),
    last_checked_at: iso(row.last_checked_at),
    created_at: iso(row.created_at),
    dkim: { selector: active?.selector ?? null, pending_selector: pending?.selector ?? null, algorithm: 'rsa-sha256', key_bits: DKIM_KEY_BITS },
    dns_records: specs.map((s) => recordView(s, checks, keys)),
    // registrar data needs registry look-ups, which we never make (private names such as .test must work)
    registrar: null,
    registrar_name: null,
    registrar_iana_id: null,
    dns_provider: null,
    registrar_last_checked_at: null,
  };
}

export type DomainView = ReturnType<typeof domainView>;

/** The last check of each record, keyed by purpose (the spec's `checks: {}`). */
export function checksView(row: DomainRow): Record<string, Omit<RecordCheck, 'purpose'>> {
  const out: Record<string, Omit<RecordCheck, 'purpose'>> = {};
  for (const { purpose, ...rest } of row.checks as RecordCheck[]) out[purpose] = rest;
  return out;
}

export const eventView = (e: DomainEventRow) => ({ type: e.type, at: e.created_at.toISOString(), detail: e.detail });
