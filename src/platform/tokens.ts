import { createHmac } from 'node:crypto';
import { constantTimeEqual, randomHex } from './crypto.js';
import type { Db } from './db/database.js';

/**
 * Signed, unguessable tokens for hosted URLs (/v/{token}, /u/{token}): `<value>.<mac>` in base64url, where the
 * MAC binds the value to its purpose so a view token cannot be replayed as an unsubscribe token.
 */
export class TokenSigner {
  constructor(private readonly secret: string) {}

  private mac(purpose: string, value: string): string {
    return createHmac('sha256', this.secret).update(`${purpose}\n${value}`).digest('base64url').slice(0, 32);
  }

  sign(purpose: string, value: string): string {
    return `${Buffer.from(value).toString('base64url')}.${this.mac(purpose, value)}`;
  }

  verify(purpose: string, token: string): string | null {
    const [encoded, mac] = token.split('.');
    if (!encoded || !mac) return null;
    const value = Buffer.from(encoded, 'base64url').toString('utf8');
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
