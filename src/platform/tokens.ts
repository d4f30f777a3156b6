import { createHmac } from 'node:crypto';
import { constantTimeEqual, randomHex } from './crypto.js';
import type { Db } from './db/database.js';

/** Characters of the MAC part: 24 bytes of HMAC-SHA256 in base64url. */
const MAC_LENGTH = 32;
/** Far above any token we sign (an email id is under 100 characters); checked before any other work. */
const MAX_TOKEN_LENGTH = 512;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Signed, unguessable tokens for hosted URLs (/v/{token}, /u/{token}): `<value>.<mac>` in base64url, where the
 * MAC binds the value to its purpose so a view token cannot be replayed as an unsubscribe token.
 *
 * Only the exact encoding `sign` produces is accepted: one dot, the base64url alphabet without padding, a value
 * part that re-encodes to itself (no spare bits, no invalid UTF-8) and a MAC of fixed length. So each email and
 * purpose has exactly one valid URL, and no suffix, padding or alternative spelling of it works.
 */
export class TokenSigner {
  constructor(private readonly secret: string) {}

  private mac(purpose: string, value: string): string {
    return createHmac('sha256', this.secret).update(`${purpose}\n${value}`).digest('base64url').slice(0, MAC_LENGTH);
  }

  sign(purpose: string, value: string): string {
    return `${Buffer.from(value).toString('base64url')}.${this.mac(purpose, value)}`;
  }

  verify(purpose: string, token: string): string | null {
    if (token.length > MAX_TOKEN_LENGTH) return null;
    const dot = token.indexOf('.');
    if (dot <= 0 || dot !== token.lastIndexOf('.')) return null;
    const encoded = token.slice(0, dot);
    const mac = token.slice(dot + 1);
    if (mac.length !== MAC_LENGTH || !BASE64URL.test(encoded) || !BASE64URL.test(mac)) return null;
    const value = Buffer.from(encoded, 'base64url').toString('utf8');
    if (Buffer.from(value).toString('base64url') !== encoded) return null;
    return constantTimeEqual(mac, this.mac(purpose, value)) ? value : null;
  }
}

/**
 * A secret shared by every process of one installation, made once and kept in the database. Only for
 * signing URLs: secrets that protect data at rest must not live beside that data.
 */
export async function loadSharedSecret(db: Db, name: string): Promise<string> {
  await db.insertInto('server_settings').values({ key: name, value: randomHex(32) }).onConflict((oc) => oc.column('key').doNothing()).execute();
  const row = await db.selectFrom('server_settings').select('value').where('key', '=', name).executeTakeFirstOrThrow();
  return row.value;
}
