import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';

const generate = promisify(generateKeyPair);

/** RSA-2048: what receivers expect today (1024 is considered weak, 4096 does not fit every DNS provider). */
export const DKIM_KEY_BITS = 2048;

export interface DkimKeyPair {
  /** base64 SubjectPublicKeyInfo (DER): the p= value of the DNS record */
  publicKey: string;
  /** PKCS#8 PEM */
  privateKeyPem: string;
}

/** Generates off the event loop (libuv thread pool): a 2048-bit key takes tens of milliseconds. */
export async function generateDkimKeyPair(): Promise<DkimKeyPair> {
  const { publicKey, privateKey } = await generate('rsa', {
    modulusLength: DKIM_KEY_BITS,
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKey: publicKey.toString('base64'), privateKeyPem: privateKey };
}

/** The TXT value published at <selector>._domainkey.<domain>. */
export const dkimRecordValue = (publicKey: string): string => `v=DKIM1; k=rsa; p=${publicKey}`;

/** Tags of a DKIM key record (RFC 6376 §3.6.1); values keep their case, whitespace is removed from p=. */
export function parseDkimRecord(txt: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const part of txt.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    tags[name] = name === 'p' ? value.replace(/\s+/g, '') : value;
  }
  return tags;
}
