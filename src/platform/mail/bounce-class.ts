import type { BounceClass } from '../lifecycle.js';

export type { BounceClass } from '../lifecycle.js';

/**
 * The class of a refused recipient from what its receiver answered: the reply code, the enhanced status code
 * (RFC 3463, `class.subject.detail`) and the reply text. The README's "Bounces and the suppression list" has the
 * table this implements, row by row; test/bounces.test.ts checks each row. Rules, first match wins:
 *
 * 1. The enhanced status code, given (a DSN's Status field) or read from the start of the text.
 * 2. The text: phrases receivers use for an unknown address, a full mailbox, or a refused sender.
 * 3. The reply code alone: a 4xx whose retries ran out is `soft`; anything else is `undetermined`.
 *
 * Only the first TEXT_LIMIT characters are read and every pattern is a plain alternation, so the cost is linear
 * and bounded whatever a receiver (or a forged report) sends.
 */
export const TEXT_LIMIT = 2048;

export interface BounceVerdict {
  bounceClass: BounceClass;
  /** the enhanced status code it was read from, e.g. "5.1.1"; null when there was none */
  status: string | null;
}

/**
 * `class.subject.detail`: class 2, 4 or 5, then up to three digits each (RFC 3463 §2), after a space, a bracket or
 * the hyphen of a multi-line reply (`550-5.1.1 …`), so a version number like `15.1.10` is not read as one.
 */
const ENHANCED = /(?:^|[\s(#[-])([245])\.(\d{1,3})\.(\d{1,3})(?=$|[\s),.;:\]])/;

/** subject.detail of class 5 that say the address itself is wrong: it does not exist, never will, or takes no mail. */
const HARD_DETAILS = new Set([
  '1.1', // bad destination mailbox address
  '1.2', // bad destination system address (no such domain)
  '1.3', // bad destination mailbox address syntax
  '1.6', // destination mailbox has moved, no forwarding address
  '1.10', // recipient address has null MX (RFC 7505)
  '2.1', // mailbox disabled, not accepting messages
  '4.4', // unable to route: the domain has no MX and no address
]);
/** the sender's own address or system was refused: the sender's problem, as policy is */
const SENDER_DETAILS = new Set(['1.7', '1.8']);

const HARD_TEXT =
  /user unknown|unknown user|no such (?:user|mailbox|recipient|address|domain)|mailbox (?:does not exist|not found)|does not exist|doesn't exist|invalid recipient|recipient not found|account (?:has been )?disabled|nxdomain|null mx|no mx record|host not found|domain not found/i;
const SOFT_TEXT = /mailbox (?:is )?full|over ?quota|quota exceeded|exceeded (?:the )?storage|insufficient (?:system )?storage|mailbox size limit/i;
const BLOCK_TEXT =
  /spam|blocked|block ?list|black ?list|reputation|policy|not authori[sz]ed|dmarc|\bspf\b|dkim|\brbl\b|spamhaus|access denied|too many (?:messages|connections)|rate limit/i;

/** The enhanced status code at the start of a reply text (after the reply code), or null. */
export function enhancedStatusOf(text: string): string | null {
  const m = ENHANCED.exec(text.slice(0, TEXT_LIMIT));
  return m ? `${m[1]}.${m[2]}.${m[3]}` : null;
}

export function classifyBounce(input: { code: number | null; status?: string | null; text: string }): BounceVerdict {
  const text = input.text.slice(0, TEXT_LIMIT);
  const given = input.status && /^[245]\.\d{1,3}\.\d{1,3}$/.test(input.status) ? input.status : null;
  const status = given ?? enhancedStatusOf(text);
  if (status !== null) {
    const [cls, subject, detail] = status.split('.');
    const sd = `${subject}.${detail}`;
    if (sd === '2.2') return { bounceClass: 'soft', status };
    if (subject === '7' || SENDER_DETAILS.has(sd)) return { bounceClass: 'block', status };
    if (cls === '5' && HARD_DETAILS.has(sd)) return { bounceClass: 'hard', status };
    if (cls === '4') return { bounceClass: 'soft', status };
  }
  if (HARD_TEXT.test(text)) return { bounceClass: 'hard', status };
  if (SOFT_TEXT.test(text)) return { bounceClass: 'soft', status };
  if (BLOCK_TEXT.test(text)) return { bounceClass: 'block', status };
  if (input.code !== null && input.code >= 400 && input.code < 500) return { bounceClass: 'soft', status };
  return { bounceClass: 'undetermined', status };
}
