import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { dkimSignatureHeader, privateKeyFromPem } from './dkim-sign.js';

/** A domain's signing key as the pool needs it; `id` must change whenever the key does (it keys the caches). */
export interface DkimKeyMaterial {
  id: string;
  domain: string;
  selector: string;
  privateKeyPem: string;
}

/** @internal the messages between the pool and its threads */
export interface SignRequest {
  id: number;
  raw: Uint8Array;
  keyId: string;
  domain: string;
  selector: string;
  /** sent only the first time a thread sees the key */
  privateKeyPem?: string;
}
/** @internal */
export type SignReply = { id: number; header: string } | { id: number; error: string };

interface Pending {
  resolve: (header: string) => void;
  reject: (err: Error) => void;
}

class SigningThread {
  readonly pending = new Map<number, Pending>();
  readonly knownKeys = new Set<string>();
  constructor(readonly worker: Worker) {}
}

const WORKER_SCRIPT = new URL('./sign-worker.js', import.meta.url);

/**
 * Signs outgoing mail on worker threads: RSA signing is the bottleneck of signed delivery and would otherwise
 * hold one core (and the event loop). With `threads: 0`, or when run from TypeScript sources where the
 * compiled thread script does not exist (the test runner), it signs on the calling thread instead.
 */
export class DkimSignerPool {
  private readonly threads: SigningThread[] = [];
  private readonly inlineKeys = new Map<string, KeyObject>();
  private nextId = 1;
  private closed = false;
  readonly threaded: boolean;

  /** `onSigned` hears how long each signature took, waiting for a thread included (metrics). */
  constructor(private readonly opts: { threads: number; onSigned?: (seconds: number) => void }) {
    this.threaded = opts.threads > 0 && existsSync(fileURLToPath(WORKER_SCRIPT));
  }

  /** Returns the message with its DKIM-Signature header on top. */
  async sign(raw: Buffer, key: DkimKeyMaterial): Promise<Buffer> {
    if (this.closed) throw new Error('the DKIM signer is closed');
    const started = performance.now();
    const header = this.threaded ? await this.signOnThread(raw, key) : this.signInline(raw, key);
    this.opts.onSigned?.((performance.now() - started) / 1000);
    return Buffer.concat([Buffer.from(`${header}\r\n`, 'latin1'), raw]);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.splice(0).map((t) => t.worker.terminate()));
    this.inlineKeys.clear();
  }

  private signInline(raw: Buffer, key: DkimKeyMaterial): string {
    let privateKey = this.inlineKeys.get(key.id);
    if (!privateKey) {
      privateKey = privateKeyFromPem(key.privateKeyPem);
      this.inlineKeys.set(key.id, privateKey);
    }
    return dkimSignatureHeader(raw, { domain: key.domain, selector: key.selector, privateKey });
  }

  private signOnThread(raw: Buffer, key: DkimKeyMaterial): Promise<string> {
    const thread = this.pickThread();
    const id = this.nextId++;
    // An exact copy, handed over rather than cloned: cloning a Buffer copies all of the memory behind it, which
    // for a small message is Buffer's whole 8 KiB shared pool slab.
    const bytes = new Uint8Array(raw.byteLength);
    bytes.set(raw);
    const request: SignRequest = { id, raw: bytes, keyId: key.id, domain: key.domain, selector: key.selector };
    if (!thread.knownKeys.has(key.id)) {
      request.privateKeyPem = key.privateKeyPem;
      thread.knownKeys.add(key.id);
    }
    return new Promise<string>((resolve, reject) => {
      thread.pending.set(id, { resolve, reject });
      thread.worker.postMessage(request, [bytes.buffer]);
    });
  }

  /** The least busy thread, starting a new one while fewer than configured are running. */
  private pickThread(): SigningThread {
    let best: SigningThread | undefined;
    for (const t of this.threads) if (!best || t.pending.size < best.pending.size) best = t;
    if (best && (best.pending.size === 0 || this.threads.length >= this.opts.threads)) return best;
    return this.startThread();
  }

  private startThread(): SigningThread {
    const worker = new Worker(WORKER_SCRIPT);
    worker.unref();
    const thread = new SigningThread(worker);
    const fail = (err: Error) => {
      const index = this.threads.indexOf(thread);
      if (index >= 0) this.threads.splice(index, 1);
      for (const p of thread.pending.values()) p.reject(err);
      thread.pending.clear();
    };
    worker.on('message', (reply: SignReply) => {
      const pending = thread.pending.get(reply.id);
      if (!pending) return;
      thread.pending.delete(reply.id);
      if ('header' in reply) pending.resolve(reply.header);
      else pending.reject(new Error(`DKIM signing failed: ${reply.error}`));
    });
    worker.on('error', (err) => fail(err));
    worker.on('exit', (code) => fail(new Error(`DKIM signing thread exited (code ${code})`)));
    this.threads.push(thread);
    return thread;
  }
}
