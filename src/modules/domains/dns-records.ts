import { dkimRecordValue } from '../../platform/mail/dkim/dkim-keys.js';

/**
 * spf / dkim decide `verification_status`; mail_from_mx / mail_from_spf decide `mail_from_status`;
 * dmarc is recommended (checked and reported, never blocking); dkim_rotation is a new key waiting to be seen
 * in DNS before signing switches to it; dkim_retiring is the previous key, to keep for a while after a switch.
 */
export type RecordPurpose = 'spf' | 'dkim' | 'dmarc' | 'mail_from_mx' | 'mail_from_spf' | 'dkim_rotation' | 'dkim_retiring';

/** What a check compares the DNS answer with. */
export type RecordExpectation =
  | { kind: 'spf'; mechanisms: string[] }
  | { kind: 'dkim'; publicKey: string }
  | { kind: 'dmarc' }
  | { kind: 'mx'; exchange: string }
  | { kind: 'none' };

export interface DnsRecordSpec {
  purpose: RecordPurpose;
  type: 'TXT' | 'MX';
  /** fully qualified, without the trailing dot */
  name: string;
  value: string;
  priority: number;
  /** whether the record must be present for the domain to count as verified (or its MAIL FROM, for mail_from_*) */
  required: boolean;
  selector?: string;
  description: string;
  expect: RecordExpectation;
}

export interface DkimKeyForRecords {
  selector: string;
  publicKey: string;
  status: 'pending' | 'active' | 'retired';
}

export interface RecordInputs {
  domain: string;
  mailFromDomain: string;
  /** mechanisms naming the hosts mail for this domain leaves from (its region's relay or this server) */
  spfMechanisms: string[];
  bounceHost: string;
  dmarcReportEmail: string | null;
  /** the active key, a pending rotation, and a recently retired key, if any */
  dkimKeys: DkimKeyForRecords[];
}

export const spfValue = (mechanisms: string[]): string => `v=spf1 ${mechanisms.join(' ')} ~all`;

/** Every record to publish, each with a plain-language note, so someone new to email DNS can follow along. */
export function buildDnsRecords(i: RecordInputs): DnsRecordSpec[] {
  const mechanisms = i.spfMechanisms.join(' ');
  const records: DnsRecordSpec[] = [
    {
      purpose: 'spf',
      type: 'TXT',
      name: i.domain,
      value: spfValue(i.spfMechanisms),
      priority: 0,
      required: true,
      description:
        `SPF: tells receivers which servers may send mail for ${i.domain}. A domain has exactly one SPF record: if ${i.domain} ` +
        `already has a TXT record starting with "v=spf1", add "${mechanisms}" to it (before its "~all" or "-all") instead of creating a second one.`,
      expect: { kind: 'spf', mechanisms: i.spfMechanisms },
    },
  ];
  for (const key of i.dkimKeys) {
    const purpose: RecordPurpose = key.status === 'active' ? 'dkim' : key.status === 'pending' ? 'dkim_rotation' : 'dkim_retiring';
    const description =
      purpose === 'dkim'
        ? `DKIM: the public key receivers use to check the signature on every message from ${i.domain}, proving it came from us unchanged. ` +
          'The value is longer than 255 characters; paste it whole (DNS providers split it into strings for you).'
        : purpose === 'dkim_rotation'
          ? `DKIM key rotation: a new key. Publish it next to the current one; signing switches to it as soon as it is seen in DNS. Keep the old record until then.`
          : `DKIM: the previous key, replaced by a rotation. Keep it for a few days so mail signed with it can still be checked, then delete it.`;
    records.push({
      purpose,
      type: 'TXT',
      name: `${key.selector}._domainkey.${i.domain}`,
      value: dkimRecordValue(key.publicKey),
      priority: 0,
      required: purpose === 'dkim',
      selector: key.selector,
      description,
      expect: purpose === 'dkim_retiring' ? { kind: 'none' } : { kind: 'dkim', publicKey: key.publicKey },
    });
  }
  records.push(
    {
      purpose: 'dmarc',
      type: 'TXT',
      name: `_dmarc.${i.domain}`,
      value: `v=DMARC1; p=none; rua=mailto:${i.dmarcReportEmail ?? `dmarc-reports@${i.domain}`}`,
      priority: 0,
      required: false,
      description:
        'DMARC (recommended): tells receivers what to do with mail that fails SPF and DKIM, and where to send daily reports. ' +
        'p=none only collects reports; once they show all your mail passing, move to p=quarantine, then p=reject. ' +
        'If the domain already has a DMARC record, keep yours.',
      expect: { kind: 'dmarc' },
    },
    {
      purpose: 'mail_from_mx',
      type: 'MX',
      name: i.mailFromDomain,
      value: i.bounceHost,
      priority: 10,
      required: true,
      description:
        `Return path (MAIL FROM): messages are sent with the envelope sender at ${i.mailFromDomain}, so bounces come back to us ` +
        'and SPF is checked on a name we manage. This MX record routes those bounces to our bounce host.',
      expect: { kind: 'mx', exchange: i.bounceHost },
    },
    {
      purpose: 'mail_from_spf',
      type: 'TXT',
      name: i.mailFromDomain,
      value: spfValue(i.spfMechanisms),
      priority: 0,
      required: true,
      description: `SPF for the return path: receivers check the envelope sender's domain (${i.mailFromDomain}) against this record. It aligns with ${i.domain} for DMARC.`,
      expect: { kind: 'spf', mechanisms: i.spfMechanisms },
    },
  );
  return records;
}
