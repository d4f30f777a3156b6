import type { DomainView } from '../modules/domains/index.js';

// Plain-text rendering of the domain commands for people; --json gives the machine-readable form.

/** What the domain commands return (the API's domain view, plus a message from verify). */
type DomainOut = DomainView & { message?: string };

const headline = (d: DomainOut): string =>
  `${d.domain}  ${d.verification_status}  (mail from ${d.mail_from_domain}: ${d.mail_from_status})  region ${d.region}  id ${d.id}`;

/** The domain and every record to publish, with why a record fails when it does. */
export function formatDomain(d: DomainOut): string {
  const lines = [headline(d)];
  if (d.message) lines.push(d.message);
  lines.push('', 'DNS records (publish each one at your DNS provider):');
  for (const r of d.dns_records) {
    lines.push(`  [${r.status}] ${r.purpose}${r.required ? '' : ' (recommended)'}`, `    ${r.type}  ${r.name}${r.type === 'MX' ? `  priority ${r.priority}` : ''}`, `    ${r.value}`);
    if (r.reason && r.status !== 'verified') lines.push(`    why: ${r.reason}`);
  }
  return `${lines.join('\n')}\n`;
}

export function formatDomainList(domains: DomainOut[]): string {
  if (domains.length === 0) return 'No domains yet. Add one: keplars-server domain add --workspace ID --domain mail.example.com\n';
  return `${domains.map(headline).join('\n')}\n`;
}
