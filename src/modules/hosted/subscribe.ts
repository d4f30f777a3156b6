import type { Tier } from '../../platform/lifecycle.js';
import { escapeHtml } from '../../platform/html-escape.js';
import type { TokenSigner } from '../../platform/tokens.js';
import { splitName, type AudienceService, type ContactService } from '../contacts/index.js';
import { isValidEmail, type SendingService } from '../sending/index.js';

/** The purpose a confirmation link is signed for (platform/tokens.ts): never valid as a form or unsubscribe token. */
export const CONFIRM_TOKEN_PURPOSE = 'subscribe-confirm';
/** How long a confirmation link works. */
export const CONFIRM_LINK_DAYS = 7;
/** A pending subscription mails its address again only after this long, whatever the form receives meanwhile. */
export const CONFIRM_RESEND_MINUTES = 15;
/** Confirmation emails wait behind transactional mail (README, "Priority tiers and the queue"). */
const CONFIRM_TIER: Tier = 'async';
/** Longest name the form takes; an address is bounded by isValidEmail. */
export const MAX_NAME_LENGTH = 200;
/** Read before any other check, so the validator never sees more. */
const MAX_EMAIL_FIELD_LENGTH = 320;
/** Control characters, line breaks and bidi overrides: nothing in a name may reorder or break the text it is shown in. */
const CONTROL = /[\p{Cc}\p{Zl}\p{Zp}\u202a-\u202e\u2066-\u2069]/u;

/** A form field read from the submitted body. */
export interface SubscribeForm {
  email: string;
  name: string;
  /** the honeypot: people never see it, so anything in it came from a program */
  website: string;
}

export type SubscribeResult =
  | { kind: 'not-found' }
  | { kind: 'invalid'; audienceName: string; message: string; form: SubscribeForm }
  /** double opt-in with nothing to send from (README: DEFAULT_FROM); nothing was recorded */
  | { kind: 'no-sender'; audienceName: string }
  | { kind: 'thanks'; audienceName: string; doubleOptIn: boolean };

export type ConfirmResult = { kind: 'not-found' } | { kind: 'page'; audienceName: string } | { kind: 'confirmed' | 'already'; audienceName: string };

/**
 * The hosted subscribe form behind an audience's `subscribe_url` (decisions §15) and its double opt-in
 * confirmation links. The subscribe token names the audience; a confirmation token names the audience, the
 * contact and when the link expires, signed for a purpose of its own.
 */
export class SubscribePageService {
  constructor(
    private readonly deps: {
      tokens: TokenSigner;
      audiences: Pick<AudienceService, 'fromSubscribeToken' | 'find'>;
      contacts: Pick<ContactService, 'subscribeThroughForm' | 'confirmPending'>;
      sending: Pick<SendingService, 'acceptSystemEmail'>;
      /** read on each use: the server corrects PUBLIC_URL once it knows its port */
      site: { readonly publicUrl: string };
      /** false when double opt-in has no address to send from (README: DEFAULT_FROM) */
      canSend: boolean;
    },
  ) {}

  get canSendConfirmations(): boolean {
    return this.deps.canSend;
  }

  /** The audience a form link shows, or undefined for a link that is not valid (or an audience that is gone). */
  async audience(token: string): Promise<{ name: string; doubleOptIn: boolean } | undefined> {
    const a = await this.deps.audiences.fromSubscribeToken(token);
    return a && { name: a.name, doubleOptIn: a.double_opt_in };
  }

  async subscribe(token: string, form: SubscribeForm): Promise<SubscribeResult> {
    const audience = await this.deps.audiences.fromSubscribeToken(token);
    if (!audience) return { kind: 'not-found' };
    const audienceName = audience.name;
    // a filled honeypot gets the answer a person gets, so a bot learns nothing from it, and nothing is recorded
    if (form.website !== '') return { kind: 'thanks', audienceName, doubleOptIn: audience.double_opt_in };
    const email = form.email.trim();
    const name = form.name.trim().replace(/\s+/g, ' ');
    if (email === '') return { kind: 'invalid', audienceName, message: 'Enter your email address.', form };
    if (email.length > MAX_EMAIL_FIELD_LENGTH || !isValidEmail(email)) return { kind: 'invalid', audienceName, message: 'Enter a valid email address, like name@example.com.', form };
    if (name.length > MAX_NAME_LENGTH || CONTROL.test(name)) return { kind: 'invalid', audienceName, message: `Enter a name of at most ${MAX_NAME_LENGTH} characters, or leave it empty.`, form };
    if (audience.double_opt_in && !this.deps.canSend) return { kind: 'no-sender', audienceName };
    const outcome = await this.deps.contacts.subscribeThroughForm(audience.workspace_id, audience.id, email, {
      profile: nameFields(name),
      doubleOptIn: audience.double_opt_in,
      resendAfterMs: CONFIRM_RESEND_MINUTES * 60_000,
    });
    if (outcome.result === 'confirm') {
      const link = `${this.deps.site.publicUrl}/s/confirm/${this.confirmToken(audience.workspace_id, audience.id, outcome.contactId)}`;
      await this.deps.sending.acceptSystemEmail({ workspaceId: audience.workspace_id, tier: CONFIRM_TIER, to: email, tags: ['subscribe-confirmation'], ...confirmationEmail(audienceName, link) });
    }
    return { kind: 'thanks', audienceName, doubleOptIn: audience.double_opt_in };
  }

  confirmToken(workspaceId: string, audienceId: string, contactId: string, expires = new Date(Date.now() + CONFIRM_LINK_DAYS * 86_400_000)): string {
    return this.deps.tokens.sign(CONFIRM_TOKEN_PURPOSE, `${workspaceId}/${audienceId}/${contactId}/${Math.floor(expires.getTime() / 1000)}`);
  }

  /** The page behind a confirmation link (GET): shows the button; confirming is a POST, so link scanners confirm nothing. */
  async confirmPage(token: string): Promise<ConfirmResult> {
    const link = await this.readConfirmToken(token);
    return link ? { kind: 'page', audienceName: link.audienceName } : { kind: 'not-found' };
  }

  async confirm(token: string): Promise<ConfirmResult> {
    const link = await this.readConfirmToken(token);
    if (!link) return { kind: 'not-found' };
    const outcome = await this.deps.contacts.confirmPending(link.workspaceId, link.audienceId, link.contactId);
    return outcome === 'invalid' ? { kind: 'not-found' } : { kind: outcome, audienceName: link.audienceName };
  }

  private async readConfirmToken(token: string): Promise<{ workspaceId: string; audienceId: string; contactId: string; audienceName: string } | undefined> {
    const value = this.deps.tokens.verify(CONFIRM_TOKEN_PURPOSE, token);
    const parts = value?.split('/') ?? [];
    if (parts.length !== 4) return undefined;
    const [workspaceId, audienceId, contactId, expires] = parts as [string, string, string, string];
    if (!/^\d{1,12}$/.test(expires) || Number(expires) * 1000 <= Date.now()) return undefined;
    const audience = await this.deps.audiences.find(workspaceId, audienceId);
    return audience && { workspaceId, audienceId, contactId, audienceName: audience.name };
  }
}

/** The form's name as profile fields: only those it gives (an empty name gives none). */
function nameFields(name: string): { first_name?: string; last_name?: string } {
  const { first, last } = splitName(name);
  return { ...(first ? { first_name: first } : {}), ...(last ? { last_name: last } : {}) };
}

function confirmationEmail(audienceName: string, link: string): { subject: string; text: string; html: string } {
  const subject = `Confirm your subscription to ${audienceName.replace(/[\r\n\u2028\u2029\0]+/g, ' ').slice(0, 150)}`;
  const text = `Someone, hopefully you, asked to subscribe this address to "${audienceName}".\n\nTo confirm, open this link within ${CONFIRM_LINK_DAYS} days and press the button:\n${link}\n\nIf it was not you, ignore this email: nothing will be sent to you.\n`;
  const html =
    `<p>Someone, hopefully you, asked to subscribe this address to <strong>${escapeHtml(audienceName)}</strong>.</p>` +
    `<p><a href="${escapeHtml(link)}">Confirm your subscription</a> (the link works for ${CONFIRM_LINK_DAYS} days).</p>` +
    '<p>If it was not you, ignore this email: nothing will be sent to you.</p>';
  return { subject, text, html };
}
