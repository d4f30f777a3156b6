import { ApiError } from '../../platform/http/errors.js';
import type { AuthenticatedKey } from '../keys/index.js';
import type { SenderPolicy } from '../sending/index.js';
import type { DomainService } from './service.js';

/**
 * The sending rules at the door: a `from` outside what the key may use is refused with 403
 * DOMAIN_NOT_VERIFIED naming the domain. The capture transport (development) accepts any `from`; delivery
 * then notes on the email's timeline that it would have been refused.
 */
export class DomainSenderPolicy implements SenderPolicy {
  constructor(
    private readonly domains: DomainService,
    private readonly acceptAnyFrom: boolean,
  ) {}

  async check(key: AuthenticatedKey, fromEmail: string): Promise<void> {
    if (this.acceptAnyFrom) return;
    const verdict = await this.domains.evaluateSender(key.workspaceId, key.domainId, fromEmail);
    if (!verdict.allowed) {
      throw new ApiError('DOMAIN_NOT_VERIFIED', verdict.reason, { details: { domain: verdict.domain, verification_status: verdict.verificationStatus } });
    }
  }
}
