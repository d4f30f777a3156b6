import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { beforeAll, describe, expect, it } from 'vitest';
import type * as PoolModule from '../src/platform/mail/dkim/signer-pool.js';
import { dkimRecordValue, generateDkimKeyPair, type DkimKeyPair } from '../src/platform/mail/dkim/dkim-keys.js';
import { composeMessage } from '../src/platform/mail/compose.js';

/** The compiled pool (dist/, built by `npm test`): only there do the signing threads have a script to run. */
const DIST_POOL = new URL('../dist/platform/mail/dkim/signer-pool.js', import.meta.url);

describe.skipIf(!existsSync(fileURLToPath(DIST_POOL)))('DKIM signing on worker threads (built pool)', () => {
  let pool: typeof PoolModule;
  let pair: DkimKeyPair;
  beforeAll(async () => {
    pool = (await import(DIST_POOL.href)) as typeof PoolModule;
    pair = await generateDkimKeyPair();
  });

  const message = (i: number) =>
    composeMessage({ messageId: `<m${i}@pool.test>`, date: new Date(), from: { email: 'a@pool.test' }, to: [{ email: 'b@example.org' }], cc: [], bcc: [], replyTo: [], subject: `n${i}`, text: `body ${i}`, headers: {}, attachments: [] });

  it('signs many messages at once across its threads, each verifying', async () => {
    const signer = new pool.DkimSignerPool({ threads: 2 });
    expect(signer.threaded).toBe(true);
    const key = { id: 'k1', domain: 'pool.test', selector: 'sel', privateKeyPem: pair.privateKeyPem };
    const signed = await Promise.all(Array.from({ length: 40 }, async (_, i) => signer.sign(await message(i), key)));
    await signer.close();
    const record = dkimRecordValue(pair.publicKey);
    const resolver = async (name: string) => (name === 'sel._domainkey.pool.test' ? [[record]] : Promise.reject(Object.assign(new Error('nx'), { code: 'ENOTFOUND' })));
    for (const raw of signed) {
      const result = await dkimVerify(raw, { resolver });
      expect(result.results[0]!.status.result).toBe('pass');
    }
  });

  it('signs exactly the bytes of a message that is a view into a larger buffer, leaving the caller’s buffer intact', async () => {
    const signer = new pool.DkimSignerPool({ threads: 1 });
    const key = { id: 'k-view', domain: 'pool.test', selector: 'sel', privateKeyPem: pair.privateKeyPem };
    const raw = await message(7);
    const around = Buffer.concat([Buffer.from('junk before'), raw, Buffer.from('\r\njunk after')]);
    const view = around.subarray(11, 11 + raw.length);
    const signed = await signer.sign(view, key);
    await signer.close();
    expect(view.equals(raw)).toBe(true);
    expect(signed.subarray(signed.length - raw.length).equals(raw)).toBe(true);
    const record = dkimRecordValue(pair.publicKey);
    const result = await dkimVerify(signed, { resolver: async () => [[record]] });
    expect(result.results[0]!.status.result).toBe('pass');
  });

  it('reports a bad key as an error without losing the thread, and refuses work once closed', async () => {
    const signer = new pool.DkimSignerPool({ threads: 1 });
    await expect(signer.sign(await message(1), { id: 'bad', domain: 'pool.test', selector: 'sel', privateKeyPem: 'not a key' })).rejects.toThrow(/DKIM signing failed/);
    const ok = await signer.sign(await message(2), { id: 'good', domain: 'pool.test', selector: 'sel', privateKeyPem: pair.privateKeyPem });
    expect(ok.toString().startsWith('DKIM-Signature:')).toBe(true);
    await signer.close();
    await expect(signer.sign(await message(3), { id: 'good', domain: 'pool.test', selector: 'sel', privateKeyPem: pair.privateKeyPem })).rejects.toThrow(/closed/);
  });
});
