import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokenSigner } from './tokens.js';

const signer = new TokenSigner('a'.repeat(64));
const ID = 'msg_1769120044470_019be7c5-95b2-738c-8285-50b1f05efc2c';
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ %';

describe('TokenSigner', () => {
  it('verifies what it signed, for its purpose only', () => {
    const token = signer.sign('view', ID);
    expect(signer.verify('view', token)).toBe(ID);
    expect(signer.verify('unsubscribe', token)).toBeNull();
    expect(new TokenSigner('b'.repeat(64)).verify('view', token)).toBeNull();
  });

  it('refuses suffixes, padding, extra parts and non-canonical base64url', () => {
    const token = signer.sign('view', ID);
    const [value, mac] = token.split('.') as [string, string];
    const refused = [
      `${token}.junk`,
      `${token}.`,
      `${token}=`,
      `${value}==.${mac}`,
      `.${mac}`,
      `${value}.`,
      `${value}.${mac}x`,
      `${value}.${mac.slice(0, -1)}`,
      `${value}+.${mac}`,
      ` ${token}`,
      `${value}.+${mac.slice(1)}`,
      'x'.repeat(10_000),
    ];
    for (const t of refused) expect(signer.verify('view', t), t).toBeNull();
  });

  it('refuses a value part whose spare bits differ (decodes to the same bytes, different text)', () => {
    const id = 'ab'; // base64url "YWI": the last character carries 2 spare bits
    const token = signer.sign('view', id);
    expect(token.startsWith('YWI.')).toBe(true);
    expect(Buffer.from('YWJ', 'base64url').toString()).toBe(id);
    expect(signer.verify('view', token.replace(/^YWI/, 'YWJ'))).toBeNull();
    expect(signer.verify('view', token)).toBe(id);
  });

  it('refuses a value that is not valid UTF-8 even with a matching MAC of its decoded text', () => {
    const bogus = Buffer.from([0xff, 0xfe]).toString('base64url');
    const decoded = Buffer.from(bogus, 'base64url').toString('utf8');
    const mac = signer.sign('view', decoded).split('.')[1]!;
    expect(signer.verify('view', `${bogus}.${mac}`)).toBeNull();
  });

  it('property: every modification of a valid token is refused', () => {
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), ch: fc.constantFrom(...ALPHABET) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), ch: fc.constantFrom(...ALPHABET) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), ch: fc.constant('') }),
      fc.record({ kind: fc.constant('append' as const), at: fc.constant(0), ch: fc.string({ minLength: 1, maxLength: 8 }) }),
    );
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 80 }), fc.array(edit, { minLength: 1, maxLength: 3 }), (id, edits) => {
        const token = signer.sign('view', id);
        let modified = token;
        for (const e of edits) {
          const at = e.at % (modified.length + 1);
          if (e.kind === 'replace') modified = modified.slice(0, at) + e.ch + modified.slice(at + 1);
          else if (e.kind === 'insert') modified = modified.slice(0, at) + e.ch + modified.slice(at);
          else if (e.kind === 'delete') modified = modified.slice(0, at) + modified.slice(at + 1);
          else modified += e.ch;
        }
        fc.pre(modified !== token);
        expect(signer.verify('view', modified)).toBeNull();
      }),
      { numRuns: 2000 },
    );
  });
});
