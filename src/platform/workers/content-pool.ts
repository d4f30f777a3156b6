import { Piscina } from 'piscina';

/** A task ran longer than its time limit: its thread was terminated (and is replaced). */
export class ContentTaskTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`content task exceeded its time limit of ${timeoutMs} ms`);
    this.name = 'ContentTaskTimeoutError';
  }
}

/** A task needed more memory than a thread may use: its thread died (and is replaced). */
export class ContentTaskMemoryError extends Error {
  constructor(readonly memoryMb: number) {
    super(`content task exceeded the thread memory limit of ${memoryMb} MB`);
    this.name = 'ContentTaskMemoryError';
  }
}

/** Every thread is busy and the waiting line is full (or too slow), or the pool is closed: try again later. */
export class ContentPoolBusyError extends Error {
  constructor(reason: string) {
    super(`content threads unavailable: ${reason}`);
    this.name = 'ContentPoolBusyError';
  }
}

export interface ContentPoolOptions {
  /** the thread script (see compiledScript): its default export receives each task */
  script: URL;
  threads: number;
  /** old-generation heap limit per thread */
  memoryMb: number;
  /** tasks that may wait for a free thread; more are refused at once */
  maxWaiting?: number;
  /** how long a task may wait for a free thread before it is refused */
  maxWaitMs?: number;
  /** errors of the pool itself (a thread that dies between tasks) */
  onError?: (err: Error) => void;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Worker threads for CPU-heavy work on tenants' content (template compilation and large renders, MJML,
 * HTML-to-text of large HTML), so that the event loop that answers every tenant never runs it.
 *
 * Each task has a time limit that counts from the moment a thread is free for it: past it the thread is
 * terminated and replaced, so a hostile input costs at most that much of one thread. Tasks wait in a bounded
 * line for a free thread; a full line is refused at once (ContentPoolBusyError), so a flood cannot grow memory.
 * Threads start on first use.
 */
export class ContentPool {
  private piscina: Piscina | null = null;
  private running = 0;
  private readonly waiting: Waiter[] = [];
  private closed = false;
  private started = 0;
  private readonly maxWaiting: number;
  private readonly maxWaitMs: number;

  constructor(private readonly opts: ContentPoolOptions) {
    this.maxWaiting = opts.maxWaiting ?? opts.threads * 32;
    this.maxWaitMs = opts.maxWaitMs ?? 10_000;
  }

  get threads(): number {
    return this.opts.threads;
  }

  get memoryMb(): number {
    return this.opts.memoryMb;
  }

  /** tasks handed to a thread so far (whatever their outcome) */
  get tasksStarted(): number {
    return this.started;
  }

  /** Runs one task on a thread; resolves with what the thread's function returned. */
  async run(task: object, limits: { timeoutMs: number }): Promise<unknown> {
    if (this.closed) throw new ContentPoolBusyError('the pool is closed');
    await this.acquire();
    try {
      return await this.execute(task, limits.timeoutMs);
    } finally {
      this.release();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new ContentPoolBusyError('the pool is closed'));
    }
    const pool = this.piscina;
    this.piscina = null;
    await pool?.destroy();
  }

  private acquire(): Promise<void> {
    if (this.running < this.opts.threads) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.maxWaiting) return Promise.reject(new ContentPoolBusyError(`${this.waiting.length} tasks are already waiting`));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const index = this.waiting.indexOf(waiter);
          if (index >= 0) this.waiting.splice(index, 1);
          reject(new ContentPoolBusyError(`no thread was free within ${this.maxWaitMs} ms`));
        }, this.maxWaitMs),
      };
      this.waiting.push(waiter);
    });
  }

  /** Hands the slot to the next waiting task, so at most `threads` tasks are ever inside piscina. */
  private release(): void {
    const next = this.waiting.shift();
    if (next) {
      clearTimeout(next.timer);
      next.resolve();
    } else {
      this.running--;
    }
  }

  private async execute(task: object, timeoutMs: number): Promise<unknown> {
    const pool = this.pool();
    this.started++;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      return await pool.run(task, { signal: abort.signal });
    } catch (err) {
      if (abort.signal.aborted) throw new ContentTaskTimeoutError(timeoutMs);
      if ((err as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY') throw new ContentTaskMemoryError(this.opts.memoryMb);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private pool(): Piscina {
    if (this.piscina) return this.piscina;
    const pool = new Piscina({
      filename: this.opts.script.href,
      // one thread stays warm once used; the others stop after a minute without work
      minThreads: 1,
      maxThreads: this.opts.threads,
      idleTimeout: 60_000,
      concurrentTasksPerWorker: 1,
      resourceLimits: { maxOldGenerationSizeMb: this.opts.memoryMb },
    });
    pool.on('error', (err: Error) => this.opts.onError?.(err));
    this.piscina = pool;
    return pool;
  }
}
