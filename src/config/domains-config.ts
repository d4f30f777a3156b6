import os from 'node:os';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { parseSmtpUrl } from '../platform/mail/smtp-relay-transport.js';
import { parseSecretKey } from '../platform/secret-box.js';
import type { DeliveryMode } from './config.js';
import { REGIONS, type Region } from './regions.js';

export { REGIONS, type Region };
export const DEFAULT_REGION: Region = 'us-east-1';

export interface RegionDelivery {
  deliveryMode: DeliveryMode;
  smtpUrl: string | null;
  /** SPF mechanisms naming the hosts this region's mail leaves from, e.g. ["ip4:203.0.113.7"] */
  spfMechanisms: string[];
  /** true when the region delivers differently from the global settings, so it needs transports of its own */
  dedicated: boolean;
}

export interface DomainsConfig {
  /** encrypts DKIM private keys at rest; null = DATA_DIR/secret.key in embedded mode, unavailable on PostgreSQL */
  secretKey: Buffer | null;
  dkimSelector: string;
  /** label(s) put in front of a domain to make its MAIL FROM (return-path) domain, e.g. bounces.example.com */
  mailFromSubdomain: string;
  /** the host the MAIL FROM domain's MX points at: where bounces are received */
  bounceHost: string;
  /** the rua= address of the suggested DMARC record; null = dmarc-reports@<the domain> */
  dmarcReportEmail: string | null;
  /** worker threads that DKIM-sign outgoing mail; 0 signs on the delivery thread */
  signingThreads: number;
  regions: Record<Region, RegionDelivery>;
  /** how long one verification (every record of a domain) may wait for DNS; records left are temporary failures */
  verifyTimeoutMs: number;
  /** live (not deleted) domains per workspace: each costs a key generation and days of DNS re-checks */
  maxDomainsPerWorkspace: number;
}

export type ReadEnv = <T>(name: string, schema: z.ZodType<T>, fallback: T) => T;

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const DOTTED_LABELS = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const dnsLabels = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => DOTTED_LABELS.test(v) && !isIP(v), 'must be DNS labels (letters, digits, hyphens) separated by dots');

const smtpUrlSchema = z.string().refine((v) => {
  try {
    parseSmtpUrl(v);
    return true;
  } catch {
    return false;
  }
}, 'must be smtp://[user:pass@]host[:port] or smtps://…');

/** One SPF term that authorises senders; `all` and modifiers are ours to add. */
function isAuthorisingMechanism(term: string): boolean {
  const m = /^\+?(ip4|ip6|a|mx|include|exists)(?::([^/\s]+))?(\/\d{1,3})?$/i.exec(term);
  if (!m) return false;
  const [, kind, target, prefix] = m;
  const bits = prefix ? Number(prefix.slice(1)) : undefined;
  switch (kind!.toLowerCase()) {
    case 'ip4':
      return target !== undefined && isIPv4(target) && (bits === undefined || bits <= 32);
    case 'ip6':
      return target !== undefined && isIPv6(target) && (bits === undefined || bits <= 128);
    case 'include':
    case 'exists':
      return target !== undefined && bits === undefined;
    default:
      return bits === undefined || bits <= 32;
  }
}

const spfMechanismsSchema = z
  .string()
  .trim()
  .transform((v, ctx) => {
    const terms = v.split(/\s+/).filter(Boolean).map((t) => t.replace(/^\+/, ''));
    const bad = terms.filter((t) => !isAuthorisingMechanism(t));
    if (terms.length === 0 || bad.length > 0) {
      ctx.addIssue({ code: 'custom', message: `expected SPF mechanisms such as "ip4:203.0.113.7 include:_spf.relay.example"${bad.length ? `; not usable: ${bad.join(' ')}` : ''}` });
      return z.NEVER;
    }
    return terms;
  });

/** The mechanism that authorises one host: its address when it is an IP literal, else its A record. */
export function mechanismForHost(host: string): string {
  if (isIPv4(host)) return `ip4:${host}`;
  if (isIPv6(host)) return `ip6:${host}`;
  return `a:${host}`;
}

/** Mail leaves from the relay for smtp, from this server (its HELO name) otherwise. */
function defaultSpfMechanisms(mode: DeliveryMode, smtpUrl: string | null, heloName: string): string[] {
  return [mechanismForHost(mode === 'smtp' && smtpUrl ? parseSmtpUrl(smtpUrl).host : heloName)];
}

const envPrefix = (region: Region): string => `REGION_${region.toUpperCase().replace(/-/g, '_')}_`;

/**
 * Settings of custom sending domains: DKIM, the MAIL FROM domain, DMARC, the server key and the delivery of
 * each region. A region with no settings of its own shares the global delivery (SMTP_URL / DELIVERY_MODE).
 */
export function loadDomainsConfig(o: { read: ReadEnv; problems: string[]; deliveryMode: DeliveryMode; smtpUrl: string | null; heloName: string }): DomainsConfig {
  const { read, problems } = o;
  const secretText = read('SECRET_KEY', z.string(), '');
  let secretKey: Buffer | null = null;
  if (secretText !== '') {
    try {
      secretKey = parseSecretKey(secretText);
    } catch (err) {
      problems.push(`SECRET_KEY: ${(err as Error).message}`);
    }
  }

  const globalSpf = read('SPF_MECHANISMS', spfMechanismsSchema, defaultSpfMechanisms(o.deliveryMode, o.smtpUrl, o.heloName));
  const regions = {} as Record<Region, RegionDelivery>;
  for (const region of REGIONS) {
    const prefix = envPrefix(region);
    const smtpUrl = read(`${prefix}SMTP_URL`, smtpUrlSchema, null as string | null);
    const explicitMode = read(`${prefix}DELIVERY_MODE`, z.enum(['capture', 'smtp', 'mx']), null as DeliveryMode | null);
    let deliveryMode: DeliveryMode = explicitMode ?? (smtpUrl ? 'smtp' : o.deliveryMode);
    let effectiveUrl = smtpUrl ?? o.smtpUrl;
    if (deliveryMode === 'smtp' && !effectiveUrl) {
      problems.push(`${prefix}DELIVERY_MODE=smtp needs ${prefix}SMTP_URL (or SMTP_URL)`);
      deliveryMode = o.deliveryMode;
      effectiveUrl = o.smtpUrl;
    }
    const dedicated = deliveryMode !== o.deliveryMode || (deliveryMode === 'smtp' && effectiveUrl !== o.smtpUrl);
    const ownSpf = read(`${prefix}SPF_MECHANISMS`, spfMechanismsSchema, null as string[] | null);
    regions[region] = {
      deliveryMode,
      smtpUrl: deliveryMode === 'smtp' ? effectiveUrl : null,
      spfMechanisms: ownSpf ?? (dedicated ? defaultSpfMechanisms(deliveryMode, effectiveUrl, o.heloName) : globalSpf),
      dedicated,
    };
  }

  return {
    secretKey,
    dkimSelector: read('DKIM_SELECTOR', dnsLabels, 'keplars'),
    mailFromSubdomain: read('MAIL_FROM_SUBDOMAIN', dnsLabels, 'bounces'),
    // an MX must name a host, never an address; "localhost" is only a placeholder until BOUNCE_HOST is set
    bounceHost: read('BOUNCE_HOST', dnsLabels, isIP(o.heloName) ? 'localhost' : o.heloName.toLowerCase()),
    dmarcReportEmail: read('DMARC_REPORT_EMAIL', z.email(), null as string | null),
    // one core is left to the delivery thread that feeds them: with a thread on every core they preempt it and
    // each other (measured on 2 cores: 1 thread delivered 10–25% more signed mail than 2)
    signingThreads: read('DKIM_SIGNING_THREADS', z.coerce.number().int().min(0).max(64), Math.max(1, Math.min(8, os.availableParallelism() - 1))),
    regions,
    verifyTimeoutMs: read('DOMAIN_VERIFY_TIMEOUT_MS', z.coerce.number().int().min(100).max(600_000), 20_000),
    maxDomainsPerWorkspace: read('MAX_DOMAINS_PER_WORKSPACE', z.coerce.number().int().positive(), 100),
  };
}
