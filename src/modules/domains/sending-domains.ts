import type { DomainStatus } from '../../platform/db/schema.js';
import { domainOfAddress, isWithinDomain } from '../../platform/dns/domain-name.js';

/** A workspace's custom domain as the sending rules and the signer see it. */
export interface SendingDomain {
  id: string;
  name: string;
  region: string;
  status: DomainStatus;
  mailFromDomain: string;
  mailFromVerified: boolean;
  /** the key that signs (null only in the instant between deletion steps) */
  key: { id: string; selector: string; sealed: string } | null;
}

export type SenderVerdict =
  | { allowed: true }
  | { allowed: false; reason: string; domain: string; verificationStatus: DomainStatus | null };

/** The most specific domain `fromDomain` is at or below. */
export function closestDomain(domains: SendingDomain[], fromDomain: string, accept: (d: SendingDomain) => boolean = () => true): SendingDomain | undefined {
  return domains.filter((d) => accept(d) && isWithinDomain(fromDomain, d.name)).sort((a, b) => b.name.length - a.name.length)[0];
}

/**
 * The sending rules. A key tied to a domain sends only from that domain or its subdomains, once it is
 * verified; a key tied to none sends from any verified domain of its workspace, or as the operator's
 * DEFAULT_FROM (the platform's own sender, used when a request has no `from`).
 */
export function evaluateSender(o: { domains: SendingDomain[]; keyDomainId: string | null; fromEmail: string; defaultFrom: string }): SenderVerdict {
  const fromDomain = domainOfAddress(o.fromEmail);
  if (o.keyDomainId) {
    const tied = o.domains.find((d) => d.id === o.keyDomainId);
    if (!tied) return { allowed: false, reason: 'The domain this key was made for has been deleted', domain: fromDomain, verificationStatus: null };
    if (!isWithinDomain(fromDomain, tied.name)) {
      return { allowed: false, reason: `This key may only send from addresses at ${tied.name} or its subdomains, not from ${o.fromEmail}`, domain: fromDomain, verificationStatus: null };
    }
    if (tied.status !== 'verified') {
      return { allowed: false, reason: `Domain ${tied.name} is not verified (status: ${tied.status}); check its DNS records with POST /api/v1/public/domains/verify-domain/${tied.id}`, domain: tied.name, verificationStatus: tied.status };
    }
    return { allowed: true };
  }
  if (o.fromEmail.toLowerCase() === o.defaultFrom.toLowerCase()) return { allowed: true };
  if (closestDomain(o.domains, fromDomain, (d) => d.status === 'verified')) return { allowed: true };
  const known = closestDomain(o.domains, fromDomain);
  if (known) {
    return {
      allowed: false,
      reason: `Domain ${known.name} is not verified (status: ${known.status}); publish its DNS records, then POST /api/v1/public/domains/verify-domain/${known.id}`,
      domain: known.name,
      verificationStatus: known.status,
    };
  }
  return {
    allowed: false,
    reason: `Domain ${fromDomain || '(none)'} is not a verified domain of this workspace: add it with POST /api/v1/public/domains/add-domain and publish its DNS records`,
    domain: fromDomain,
    verificationStatus: null,
  };
}
