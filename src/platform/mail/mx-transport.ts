import os from 'node:os';
import { domainToASCII } from 'node:url';
import type { Resolver } from '../dns/resolver.js';
import { nonPublicAddressKind } from './mx-address-policy.js';
import { resolveHostAddresses, resolveMailRoute } from './mx-routing.js';
import { classifySmtpError, errorCodeOf, outcomesForFailure, type FailureClassification } from './smtp-errors.js';
import { outcomesFromSendError, outcomesFromSendResult } from './smtp-outcomes.js';
import { SmtpSession } from './smtp-session.js';
import type { Envelope, RecipientOutcome, Transport } from './types.js';

export interface MxTransportOptions {
  /** Used for MX and for the mail hosts' addresses, so tests can point it at 127.0.0.1. */
  resolver: Resolver;
  /** Default 25; tests use the sink's port. */
  port?: number;
  /** EHLO name; should match this machine's reverse DNS (default: os.hostname()). */
  heloName?: string;
  /** Connect, greeting and inactivity timeout per host, in ms (default 30 s). */
  timeoutMs?: number;
  /** How long a connection is kept for the next message to the same domain (default 5 s; 0 = never). */
  idleTimeoutMs?: number;
  /** Messages per connection before it is closed (default 100). */
  maxMessagesPerConnection?: number;
  /**
   * Connect to loopback, private, link-local and other non-public addresses too (default false: such a
   * recipient fails permanently). For tests and closed networks only (MX_ALLOW_PRIVATE_ADDRESSES).
   */
  allowPrivateAddresses?: boolean;
}

/** Upper bound on connection attempts per domain and send, across all MX hosts and addresses. */
const MAX_ATTEMPTS_PER_DOMAIN = 10;
/** Upper bound on MX hosts whose addresses are looked up per domain and send: a domain may list thousands. */
const MAX_HOSTS_PER_DOMAIN = 10;

/** Why an address is refused, or null when direct delivery may connect to it. */
function refusal(hostname: string, address: string): string | null {
  const kind = nonPublicAddressKind(address);
  if (kind === null) return null;
  const what = hostname === address ? address : `mail host ${hostname} resolves to ${address}`;
  return `refused: ${what}, ${kind}; direct delivery goes only to public addresses`;
}

/** What one attempt against one host settled. */
type AttemptResult =
  | { kind: 'final'; outcomes: RecipientOutcome[] }
  /** Not settled here: try the next host (or report this failure if none is left). */
  | { kind: 'next-host'; failure: FailureClassification; host: string };

/** One domain's share of a send: the envelope as sent, and the recipients as the caller wrote them (same order). */
interface Delivery {
  envelope: Envelope;
  recipients: string[];
}

interface IdleSession {
  session: SmtpSession;
  timer: NodeJS.Timeout;
}

/** Connections kept open per destination domain between sends. */
class IdleSessions {
  private readonly byDomain = new Map<string, IdleSession[]>();

  constructor(private readonly idleTimeoutMs: number) {}

  take(domain: string): SmtpSession | null {
    const list = this.byDomain.get(domain);
    while (list && list.length > 0) {
      const entry = list.pop();
      if (!entry) break;
      clearTimeout(entry.timer);
      if (entry.session.usable) return entry.session;
    }
    this.byDomain.delete(domain);
    return null;
  }

  put(domain: string, session: SmtpSession): void {
    const list = this.byDomain.get(domain) ?? [];
    const entry: IdleSession = {
      session,
      timer: setTimeout(() => {
        const index = list.indexOf(entry);
        if (index !== -1) list.splice(index, 1);
        session.quit();
      }, this.idleTimeoutMs),
    };
    entry.timer.unref();
    list.push(entry);
    this.byDomain.set(domain, list);
  }

  closeAll(): void {
    for (const list of this.byDomain.values()) {
      for (const entry of list) {
        clearTimeout(entry.timer);
        entry.session.quit();
      }
    }
    this.byDomain.clear();
  }
}

interface Recipient {
  /** As given by the caller; outcomes are reported under this. */
  address: string;
  /** As sent in RCPT TO: the domain in its ASCII (punycode) form. */
  wire: string;
}

/** Splits off the domain, converted to ASCII so DNS and RCPT TO see "xn--" labels; null if unusable. */
function parseRecipient(address: string): { domain: string; recipient: Recipient } | null {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return null;
  const given = address.slice(at + 1).replace(/\.$/, '');
  const domain = given.startsWith('[') ? given.toLowerCase() : domainToASCII(given);
  if (domain === '') return null;
  return { domain, recipient: { address, wire: `${address.slice(0, at)}@${domain}` } };
}

/** Recipients grouped by destination domain, duplicates removed; invalid addresses set aside. */
function groupByDomain(recipients: readonly string[]): { byDomain: Map<string, Recipient[]>; invalid: string[] } {
  const byDomain = new Map<string, Recipient[]>();
  const invalid: string[] = [];
  for (const address of new Set(recipients)) {
    const parsed = parseRecipient(address);
    if (parsed === null) {
      invalid.push(address);
      continue;
    }
    const list = byDomain.get(parsed.domain) ?? [];
    list.push(parsed.recipient);
    byDomain.set(parsed.domain, list);
  }
  return { byDomain, invalid };
}

/**
 * Delivers directly to each recipient domain's mail servers (RFC 5321 §5): MX hosts in
 * preference order, the domain's own address when it has no MX, nothing for a null MX.
 * STARTTLS is used whenever offered.
 */
export function createMxTransport(opts: MxTransportOptions): Transport {
  const { resolver } = opts;
  const port = opts.port ?? 25;
  const heloName = opts.heloName ?? os.hostname();
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const idleTimeoutMs = opts.idleTimeoutMs ?? 5_000;
  const maxMessagesPerConnection = opts.maxMessagesPerConnection ?? 100;
  const allowPrivateAddresses = opts.allowPrivateAddresses ?? false;
  const idle = new IdleSessions(idleTimeoutMs);
  let closed = false;

  function release(domain: string, session: SmtpSession): void {
    const reusable = !closed && idleTimeoutMs > 0 && session.usable && session.messageCount < maxMessagesPerConnection;
    if (reusable) idle.put(domain, session);
    else session.quit();
  }

  async function transact(domain: string, session: SmtpSession, delivery: Delivery, raw: Buffer): Promise<AttemptResult> {
    const { envelope, recipients } = delivery;
    try {
      const info = await session.send(envelope, raw);
      release(domain, session);
      return { kind: 'final', outcomes: outcomesFromSendResult(recipients, info, session.hostname, envelope.to) };
    } catch (err) {
      // Whatever state the session is in now, a fresh one is cheaper than reasoning about it.
      session.close();
      const perRecipient = typeof err === 'object' && err !== null && 'rejectedErrors' in err;
      const failure = classifySmtpError(err);
      // A server reply of 5xx (or per-recipient replies) is the destination's answer; anything
      // else (4xx, dropped connection, timeout) may go better on another MX host.
      if (perRecipient || (failure.status === 'bounced' && failure.code !== null)) {
        return { kind: 'final', outcomes: outcomesFromSendError(recipients, err, session.hostname, envelope.to) };
      }
      return { kind: 'next-host', failure, host: session.hostname };
    }
  }

  async function openSession(hostname: string, address: string): Promise<SmtpSession> {
    const base = { address, hostname, port, heloName, timeoutMs };
    try {
      return await SmtpSession.open({ ...base, starttls: true });
    } catch (err) {
      // A broken TLS stack on the server should not stop delivery: opportunistic TLS is optional.
      if (errorCodeOf(err) !== 'ETLS') throw err;
      return SmtpSession.open({ ...base, starttls: false });
    }
  }

  async function attemptHost(domain: string, hostname: string, address: string, delivery: Delivery, raw: Buffer): Promise<AttemptResult> {
    let session: SmtpSession;
    try {
      session = await openSession(hostname, address);
    } catch (err) {
      return { kind: 'next-host', failure: classifySmtpError(err), host: hostname };
    }
    return transact(domain, session, delivery, raw);
  }

  async function deliverToDomain(domain: string, group: Recipient[], from: string, raw: Buffer): Promise<RecipientOutcome[]> {
    const recipients = group.map((r) => r.address);
    const delivery: Delivery = { envelope: { from, to: group.map((r) => r.wire) }, recipients };
    const failures: { failure: FailureClassification; host: string | null }[] = [];

    const reused = idle.take(domain);
    if (reused) {
      const result = await transact(domain, reused, delivery, raw);
      if (result.kind === 'final') return result.outcomes;
      // Most likely the server dropped the idle connection; not held against the destination.
    }

    const route = await resolveMailRoute(resolver, domain);
    if (route.kind === 'undeliverable') {
      return outcomesForFailure(recipients, { status: 'bounced', code: null, response: route.reason }, null);
    }
    if (route.kind === 'dns-failure') {
      return outcomesForFailure(recipients, { status: 'deferred', code: null, response: route.reason }, null);
    }

    let attempts = 0;
    for (const hostname of route.hosts.slice(0, MAX_HOSTS_PER_DOMAIN)) {
      if (attempts >= MAX_ATTEMPTS_PER_DOMAIN) break;
      const resolved = await resolveHostAddresses(resolver, hostname);
      if (resolved.kind === 'no-address' && route.implicit) {
        const response = `domain ${domain} has no MX record and no address to deliver to`;
        return outcomesForFailure(recipients, { status: 'bounced', code: null, response }, null);
      }
      if (resolved.kind !== 'addresses') {
        // An MX host without an address is a fixable misconfiguration on their side: retry later.
        failures.push({ failure: { status: 'deferred', code: null, response: resolved.reason }, host: hostname });
        continue;
      }
      for (const address of resolved.addresses.slice(0, MAX_ATTEMPTS_PER_DOMAIN)) {
        const refused = allowPrivateAddresses ? null : refusal(hostname, address);
        if (refused !== null) {
          // permanent: where a domain's mail goes is its own choice, and it chose somewhere we never connect to
          failures.push({ failure: { status: 'bounced', code: null, response: refused }, host: hostname });
          continue;
        }
        if (attempts++ >= MAX_ATTEMPTS_PER_DOMAIN) break;
        const result = await attemptHost(domain, hostname, address, delivery, raw);
        if (result.kind === 'final') return result.outcomes;
        failures.push({ failure: result.failure, host: result.host });
      }
    }

    const last = failures.at(-1) ?? { failure: { status: 'deferred', code: null, response: `no mail host reachable for ${domain}` }, host: null };
    // Permanent only if every host refused permanently; one temporary failure means it may work later.
    const status = failures.length > 0 && failures.every((f) => f.failure.status === 'bounced') ? 'bounced' : 'deferred';
    return outcomesForFailure(recipients, { ...last.failure, status }, last.host);
  }

  return {
    kind: 'mx',

    async send(envelope: Envelope, raw: Buffer): Promise<RecipientOutcome[]> {
      const { byDomain, invalid } = groupByDomain(envelope.to);
      const outcomes = new Map<string, RecipientOutcome>();
      for (const recipient of invalid) {
        outcomes.set(recipient, { recipient, status: 'bounced', code: null, response: 'invalid recipient address', host: null });
      }
      await Promise.all(
        [...byDomain].map(async ([domain, recipients]) => {
          for (const outcome of await deliverToDomain(domain, recipients, envelope.from, raw)) outcomes.set(outcome.recipient, outcome);
        }),
      );
      return envelope.to.map((recipient) => {
        const outcome = outcomes.get(recipient);
        if (!outcome) throw new Error(`mx transport produced no outcome for ${recipient}`);
        return { ...outcome, recipient };
      });
    },

    async close(): Promise<void> {
      closed = true;
      idle.closeAll();
    },
  };
}
