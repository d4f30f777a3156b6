import type { TokenSigner } from '../../platform/tokens.js';
import type { EmailService, PageContent } from '../emails/index.js';

/**
 * The pages behind `{{viewInBrowserUrl}}` and `{{unsubscribeUrl}}` (decisions §15): a token signed per email and
 * purpose is the only permission, and the emails module answers for the email.
 */
export class HostedPageService {
  constructor(private readonly deps: { tokens: TokenSigner; emails: Pick<EmailService, 'pageContent' | 'recordUnsubscribe'> }) {}

  /** The email a view link shows, or undefined when the link is not valid (or the email is gone). */
  async viewable(token: string): Promise<PageContent | undefined> {
    const id = this.deps.tokens.verify('view', token);
    return id ? this.deps.emails.pageContent(id) : undefined;
  }

  isUnsubscribeLink(token: string): boolean {
    return this.deps.tokens.verify('unsubscribe', token) !== null;
  }

  /** Records the request on the email's timeline (suppression lists build on this event); false for a link that is not valid. */
  async unsubscribe(token: string): Promise<boolean> {
    const id = this.deps.tokens.verify('unsubscribe', token);
    return id ? this.deps.emails.recordUnsubscribe(id, 'hosted page') : false;
  }
}
