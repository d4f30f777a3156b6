import type { MessageRow } from '../../platform/db/schema.js';
import type { EmailEventType } from '../../platform/lifecycle.js';
import type { DkimSignerPool } from '../../platform/mail/dkim/signer-pool.js';
import type { ReturnPathSigner } from '../../platform/mail/verp.js';
import type { KeyService } from '../keys/index.js';
import type { DomainService } from './service.js';

export interface OutgoingMessage {
  raw: Buffer;
  /** MAIL FROM: a signed VERP address on the return-path domain, so a bounce names its email and recipient */
  envelopeFrom: string;
  /** the custom domain's region, whose delivery settings apply; null = the global ones */
  region: string | null;
  /** timeline entries to record with the attempt */
  events: { type: EmailEventType; detail: Record<string, unknown> }[];
}

/** The message as the preparer reads it: its recipients say which position a single-recipient envelope carries. */
type PreparedMessage = Pick<MessageRow, 'id' | 'workspace_id' | 'api_key_id' | 'from_email'> & {
  recipients?: readonly { position: number; status: string; suppressed: string | null }[];
};

/**
 * The position the return path names: the one recipient this attempt sends to, or null when the envelope carries
 * several (a report then names its recipient itself, in Final-Recipient or Original-Rcpt-To).
 */
function attemptedPosition(message: PreparedMessage): number | null {
  const waiting = (message.recipients ?? []).filter((r) => (r.status === 'pending' || r.status === 'deferred') && r.suppressed === null);
  return waiting.length === 1 ? waiting[0]!.position : null;
}

/**
 * What delivery does per message for custom domains: sign with the verified domain's DKIM key (on the
 * signer's threads), use the domain's MAIL FROM once it is verified, and pick the domain's region. Mail that
 * is not from a domain the key may use (accepted only by the capture transport, or sent after its domain lost
 * verification) goes out as before, with a note on its timeline saying so.
 */
export function createOutgoingPreparer(o: {
  domains: DomainService;
  keys: KeyService;
  signer: DkimSignerPool;
  captureOnly: boolean;
  /** signs the VERP return paths; without it the return path is the from address */
  returnPaths?: ReturnPathSigner;
  /** BOUNCE_DOMAIN: the return-path domain of mail sent as DEFAULT_FROM */
  bounceDomain?: string | null;
  defaultFrom?: string;
}) {
  // today's behaviour whenever the id cannot be carried or no return-path domain applies
  const returnPath = (message: PreparedMessage, domain: string | null): string =>
    (domain && o.returnPaths?.address(message.id, attemptedPosition(message), domain)) || message.from_email;
  return async (message: PreparedMessage, raw: Buffer): Promise<OutgoingMessage> => {
    const keyDomainId = message.api_key_id ? await o.keys.domainIdOf(message.api_key_id) : null;
    const [identity, verdict] = await Promise.all([
      o.domains.signingIdentity(message.workspace_id, message.from_email),
      o.domains.evaluateSender(message.workspace_id, keyDomainId, message.from_email),
    ]);
    const events: OutgoingMessage['events'] = [];
    if (!verdict.allowed) {
      events.push({
        type: 'sender_unverified',
        detail: {
          domain: verdict.domain,
          reason: verdict.reason,
          signed: identity !== null,
          note: o.captureOnly
            ? 'accepted because the capture transport keeps mail on this server; smtp and mx delivery refuse a from address the key may not use'
            : 'the sender stopped being allowed after this email was accepted',
        },
      });
    }
    if (!identity) {
      const platformSender = o.bounceDomain && o.defaultFrom && message.from_email.toLowerCase() === o.defaultFrom.toLowerCase();
      return { raw, envelopeFrom: returnPath(message, platformSender ? o.bounceDomain! : null), region: null, events };
    }
    return {
      raw: await o.signer.sign(raw, identity.key),
      envelopeFrom: returnPath(message, identity.domain.mailFromVerified ? identity.domain.mailFromDomain : null),
      region: identity.domain.region,
      events,
    };
  };
}
