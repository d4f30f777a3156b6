import { createHmac, randomBytes } from 'node:crypto';
import type { WebhookSignatureScheme } from '../../platform/db/schema.js';

export const SIGNATURE_SCHEMES = ['s1', 's2', 's3'] as const satisfies readonly WebhookSignatureScheme[];
const PREFIX = 'whsec_';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A new signing secret: `whsec_` + base64 of 24 random bytes (the Standard Webhooks form). */
export const generateSecret = (): string => `${PREFIX}${randomBytes(24).toString('base64')}`;

/** Why a secret a user chose cannot be used, or null. */
export function secretProblem(secret: string): string | null {
  if (secret.length < 16 || secret.length > 256) return 'must be 16 to 256 characters';
  if (!/^[\x21-\x7e]+$/.test(secret)) return 'must be printable ASCII without spaces';
  if (secret.startsWith(PREFIX)) {
    const rest = secret.slice(PREFIX.length);
    if (!BASE64.test(rest) || Buffer.from(rest, 'base64').length < 16) return `after "${PREFIX}" must be base64 of at least 16 bytes`;
  }
  return null;
}

/** What the API shows after creation: the prefix and the last four characters. */
export const secretHint = (secret: string): string => `${secret.startsWith(PREFIX) ? PREFIX : ''}…${secret.slice(-4)}`;

/**
 * The Standard Webhooks key: the base64-decoded part after `whsec_`, as that specification says; a secret in
 * another form is used as its UTF-8 bytes (receivers then pass it to their verifier as raw bytes).
 */
export function standardKey(secret: string): Buffer {
  return secret.startsWith(PREFIX) ? Buffer.from(secret.slice(PREFIX.length), 'base64') : Buffer.from(secret, 'utf8');
}

const hmacHex = (key: string, data: string) => createHmac('sha256', key).update(data).digest('hex');

/**
 * Every signature header of one request (spec §9, decisions §9). The Keplars HMAC key is the secret string as
 * shown to the user; S1 signs the raw body, S2 `<timestamp>.<body>`, S3 is S1 with a `sha256=` prefix.
 */
export function signatureHeaders(o: { secret: string; scheme: WebhookSignatureScheme; deliveryId: string; event: string; body: string; timestamp: number }): Record<string, string> {
  const ts = String(o.timestamp);
  const keplars = o.scheme === 's2' ? hmacHex(o.secret, `${ts}.${o.body}`) : o.scheme === 's3' ? `sha256=${hmacHex(o.secret, o.body)}` : hmacHex(o.secret, o.body);
  const standard = createHmac('sha256', standardKey(o.secret)).update(`${o.deliveryId}.${ts}.${o.body}`).digest('base64');
  return {
    'content-type': 'application/json',
    'user-agent': 'keplars-server-webhooks',
    'x-keplars-signature': keplars,
    'x-keplars-timestamp': ts,
    'x-keplars-event': o.event,
    'x-keplars-delivery': o.deliveryId,
    'webhook-id': o.deliveryId,
    'webhook-timestamp': ts,
    'webhook-signature': `v1,${standard}`,
  };
}
