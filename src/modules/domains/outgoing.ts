import type { MessageRow } from '../../platform/db/schema.js';
import type { EmailEventType } from '../../platform/lifecycle.js';
import type { DkimSignerPool } from '../../platform/mail/dkim/signer-pool.js';
import type { KeyService } from '../keys/index.js';
import type { DomainService } from './service.js';

export interface OutgoingMessage {
  raw: Buffer;
  /** MAIL FROM: a per-message address on the domain's return-path domain, so a bounce names its message */
  envelopeFrom: string;
  /** the custom domain's region, whose delivery settings apply; null = the global ones */
  region: string | null;
  /** timeline entries to record with the attempt */
  events: { type: EmailEventType; detail: Record<string, unknown> }[];
}

/** VERP-style return path: b+<message id>@bounces.example.com (message ids are [a-z0-9_-] only). */
export const returnPathFor = (messageId: string, mailFromDomain: string): string => `b+${messageId}@${mailFromDomain}`;

/**
 * What delivery does per message for custom domains: sign with the verified domain's DKIM key (on the
 * signer's threads), use the domain's MAIL FROM once it is verified, and pick the domain's region. Mail that
 * is not from a domain the key may use (accepted only by the capture transport, or sent after its domain lost
 * verification) goes out as before, with a note on its timeline saying so.
 */
export function createOutgoingPreparer(o: { domains: DomainService; keys: KeyService; signer: DkimSignerPool; captureOnly: boolean }) {
  return async (message: Pick<MessageRow, 'id' | 'workspace_id' | 'api_key_id' | 'from_email'>, raw: Buffer): Promise<OutgoingMessage> => {
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
    if (!identity) return { raw, envelopeFrom: message.from_email, region: null, events };
    return {
      raw: await o.signer.sign(raw, identity.key),
      envelopeFrom: identity.domain.mailFromVerified ? returnPathFor(message.id, identity.domain.mailFromDomain) : message.from_email,
      region: identity.domain.region,
      events,
    };
  };
}
