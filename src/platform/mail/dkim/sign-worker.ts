import type { KeyObject } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { dkimSignatureHeader, privateKeyFromPem } from './dkim-sign.js';
import type { SignReply, SignRequest } from './signer-pool.js';

/** One signing thread of DkimSignerPool. Keys are parsed once per thread and kept by their id. */
const keys = new Map<string, KeyObject>();

parentPort?.on('message', (request: SignRequest) => {
  let reply: SignReply;
  try {
    let privateKey = keys.get(request.keyId);
    if (!privateKey) {
      if (request.privateKeyPem === undefined) throw new Error(`signing key ${request.keyId} was never sent to this thread`);
      privateKey = privateKeyFromPem(request.privateKeyPem);
      keys.set(request.keyId, privateKey);
    }
    const raw = Buffer.from(request.raw.buffer, request.raw.byteOffset, request.raw.byteLength);
    reply = { id: request.id, header: dkimSignatureHeader(raw, { domain: request.domain, selector: request.selector, privateKey }) };
  } catch (err) {
    reply = { id: request.id, error: err instanceof Error ? err.message : String(err) };
  }
  parentPort!.postMessage(reply);
});
