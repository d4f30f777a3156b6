import { authenticate } from 'mailauth';
import { createResolver } from '../../src/platform/dns/resolver.js';
import type { TestDnsServer } from './dns-server.js';

/** The record as add-domain / domain-status return it. */
export interface ApiDnsRecord {
  type: 'TXT' | 'MX';
  name: string;
  value: string;
  priority: number;
  purpose: string;
  required: boolean;
  status: string;
  found: string[] | null;
  reason: string | null;
}

export interface ApiDomain {
  id: string;
  domain: string;
  verification_status: string;
  mail_from_status: string;
  mail_from_domain: string;
  region: string;
  dkim: { selector: string | null; pending_selector: string | null };
  dns_records: ApiDnsRecord[];
}

/** A fixed 32-byte server key for tests (hex). */
export const TEST_SECRET_KEY = 'a3'.repeat(32);

/** Publishes records the way a person would at their DNS provider: added next to what is there. */
export function publish(dns: TestDnsServer, records: ApiDnsRecord[], only?: (r: ApiDnsRecord) => boolean): void {
  for (const r of records.filter(only ?? (() => true))) {
    if (r.type === 'TXT') dns.set(r.name, 'TXT', [r.value]);
    else dns.set(r.name, 'MX', [{ exchange: r.value, priority: r.priority }]);
  }
}

export const recordOf = (d: ApiDomain, purpose: string): ApiDnsRecord => {
  const r = d.dns_records.find((x) => x.purpose === purpose);
  if (!r) throw new Error(`no ${purpose} record in ${JSON.stringify(d.dns_records.map((x) => x.purpose))}`);
  return r;
};

/** What a receiving server decides about a message: mailauth's SPF, DKIM and DMARC, against the test DNS. */
export async function receiverVerdict(dns: TestDnsServer, raw: Buffer, envelopeFrom: string) {
  const resolver = createResolver([dns.server]);
  const result = await authenticate(raw, {
    ip: '127.0.0.1',
    helo: 'mta.keplars.test',
    mta: 'mx.receiver.test',
    sender: envelopeFrom,
    resolver: (name: string, type: string) => resolver.resolve(name, type as 'TXT') as Promise<string[][]>,
    disableArc: true,
    disableBimi: true,
  });
  return result;
}
