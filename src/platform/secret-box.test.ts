import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseSecretKey, SecretBox, SecretBoxError } from './secret-box.js';

describe('SecretBox', () => {
  it('seals and opens, binding the value to its context and its key', () => {
    const key = randomBytes(32);
    const box = new SecretBox(key);
    const sealed = box.seal('-----BEGIN PRIVATE KEY-----', 'domain-dkim-key:1');
    expect(sealed).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(sealed).not.toContain('PRIVATE');
    expect(box.open(sealed, 'domain-dkim-key:1')).toBe('-----BEGIN PRIVATE KEY-----');
    expect(box.seal('same', 'c')).not.toBe(box.seal('same', 'c'));
    expect(() => box.open(sealed, 'domain-dkim-key:2')).toThrow(SecretBoxError);
    expect(() => new SecretBox(randomBytes(32)).open(sealed, 'domain-dkim-key:1')).toThrow(/SECRET_KEY/);
    expect(() => box.open(sealed.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')), 'domain-dkim-key:1')).toThrow(SecretBoxError);
  });

  it('reads 32-byte keys as hex or base64 and refuses anything else', () => {
    const bytes = randomBytes(32);
    expect(parseSecretKey(bytes.toString('hex'))).toEqual(bytes);
    expect(parseSecretKey(bytes.toString('base64'))).toEqual(bytes);
    expect(parseSecretKey(bytes.toString('base64url'))).toEqual(bytes);
    for (const bad of ['', 'secret', 'ab'.repeat(31), randomBytes(16).toString('base64')]) expect(() => parseSecretKey(bad)).toThrow(SecretBoxError);
  });
});
