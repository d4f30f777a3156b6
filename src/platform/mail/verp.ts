import { createHmac } from 'node:crypto';
import { constantTimeEqual } from '../crypto.js';

/**
 * Signed VERP return paths: `b+<token>@<return-path domain>`, so a bounce or complaint sent back to the envelope
 * sender names the email and the recipient it is about (README, "Bounces and complaints").
 *
 * The token is 29 bytes in lowercase base32 (47 characters; the local part is 49 octets, within RFC 5321's 64):
 *   byte 0       version and id kind: 0x01 = msg_…, 0x02 = scheduled_msg_…
 *   bytes 1–16   the UUIDv7 of the email id; its first 48 bits are the id's epoch milliseconds (platform/ids.ts),
 *                so the whole id is rebuilt from it and found by its primary key
 *   bytes 17–18  the recipient's position + 1 (big-endian); 0 = the envelope carried several recipients
 *   bytes 19–28  HMAC-SHA256 of bytes 0–18 under the installation's secret, truncated to 80 bits
 * Lowercase base32 because some servers change the case of a local part. Only the encoding `address` produces
 * is accepted (in either letter case), so each email and position has one return path; anything else reads as
 * no token.
 */

const PREFIX = 'b+';
const KINDS = { 1: 'msg_', 2: 'scheduled_msg_' } as const;
const ID_PATTERN = /^(msg|scheduled_msg)_(\d{1,16})_([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/;
const BODY_BYTES = 19;
const MAC_BYTES = 10;
const TOKEN_BYTES = BODY_BYTES + MAC_BYTES;
const TOKEN_CHARS = Math.ceil((TOKEN_BYTES * 8) / 5);
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const TOKEN_PATTERN = new RegExp(`^[${ALPHABET}]{${TOKEN_CHARS}}$`);

/** The longest local part `address` makes (b+ and the token), for the RFC 5321 bound. */
export const RETURN_PATH_LOCAL_PART_OCTETS = PREFIX.length + TOKEN_CHARS;

function base32(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

function unbase32(text: string): Buffer {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of text) {
    value = (value << 5) | ALPHABET.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
    value &= (1 << bits) - 1;
  }
  return Buffer.from(out);
}

export interface ReturnPathTarget {
  emailId: string;
  /** the recipient's position in the email (from 0); null when the envelope that carried it had several recipients */
  position: number | null;
}

export class ReturnPathSigner {
  constructor(private readonly secret: string) {}

  private mac(body: Buffer): Buffer {
    return createHmac('sha256', this.secret).update('return-path\n').update(body).digest().subarray(0, MAC_BYTES);
  }

  /** The local part for an email and recipient position; null for an id this format cannot carry (then no VERP). */
  localPart(emailId: string, position: number | null): string | null {
    const m = ID_PATTERN.exec(emailId);
    if (!m || (position !== null && (!Number.isInteger(position) || position < 0 || position >= 0xffff))) return null;
    const uuid = Buffer.from(m.slice(3).join(''), 'hex');
    // the id must be rebuildable from its UUID: its milliseconds are the UUID's first 48 bits
    if (String(uuid.readUIntBE(0, 6)) !== m[2]) return null;
    const body = Buffer.alloc(BODY_BYTES);
    body[0] = m[1] === 'msg' ? 1 : 2;
    uuid.copy(body, 1);
    body.writeUInt16BE(position === null ? 0 : position + 1, 17);
    return `${PREFIX}${base32(Buffer.concat([body, this.mac(body)]))}`;
  }

  /** `b+<token>@domain`, or null when the id cannot be carried. */
  address(emailId: string, position: number | null, domain: string): string | null {
    const local = this.localPart(emailId, position);
    return local === null ? null : `${local}@${domain}`;
  }

  /** What a recipient address's token names; null for no token, or one that is forged, altered or re-spelled. */
  read(address: string): ReturnPathTarget | null {
    if (address.length > 320) return null;
    const at = address.lastIndexOf('@');
    const local = (at < 0 ? address : address.slice(0, at)).toLowerCase();
    if (!local.startsWith(PREFIX)) return null;
    const token = local.slice(PREFIX.length);
    if (!TOKEN_PATTERN.test(token)) return null;
    const bytes = unbase32(token);
    if (bytes.length !== TOKEN_BYTES || base32(bytes) !== token) return null;
    const body = bytes.subarray(0, BODY_BYTES);
    if (!constantTimeEqual(bytes.subarray(BODY_BYTES).toString('hex'), this.mac(body).toString('hex'))) return null;
    const prefix = KINDS[body[0] as 1 | 2];
    if (!prefix) return null;
    const hex = body.subarray(1, 17).toString('hex');
    const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    const position = body.readUInt16BE(17);
    return { emailId: `${prefix}${body.readUIntBE(1, 6)}_${uuid}`, position: position === 0 ? null : position - 1 };
  }
}
