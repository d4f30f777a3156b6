import pg from 'pg';
import type { Logger } from '../logger.js';

export interface DatabaseHealth {
  /** unknown: not checked yet */
  state: 'up' | 'down' | 'unknown';
  /** when the state last changed */
  since: Date;
}

export interface PgListenerOptions {
  client: pg.ClientConfig;
  /** how often the connection is checked with a trivial query */
  probeIntervalMs: number;
  /** bound on connecting, on LISTEN and on each probe */
  timeoutMs: number;
  log?: Logger;
  /** runs when the database is found unreachable, e.g. to fail the queries still waiting on it */
  onDown?: () => void;
}

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5000;

type NotifyHandler = (payload: string) => void;

/**
 * The connection that LISTENs, kept alive: it is probed with `SELECT 1` every probeIntervalMs, and when it
 * fails, ends or a probe goes unanswered (a silent network partition sends no reset), it is replaced with
 * backoff and every channel is listened to again. Loss and recovery are logged once each.
 *
 * Being a connection of its own, outside the pool, it doubles as the database's health probe: it never
 * queues behind a tenant's slow query, so its state does not flap under load.
 */
export class PgListener {
  private client: pg.Client | null = null;
  private readonly channels = new Map<string, Set<NotifyHandler>>();
  private readonly restoredHooks = new Set<() => void>();
  private health: DatabaseHealth = { state: 'unknown', since: new Date() };
  private probeTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryMs = FIRST_RETRY_MS;
  private probing = false;
  private stopped = false;
  private lastError: string | null = null;
  /** the first connection, shared by listen() calls that arrive together */
  private firstConnect: Promise<void> | null = null;

  constructor(private readonly o: PgListenerOptions) {}

  get state(): DatabaseHealth {
    return { ...this.health };
  }

  /**
   * Listens on a channel. The first call connects and fails if the database cannot be reached (start-up
   * then fails clearly); later losses are repaired in the background. onRestored runs after each
   * reconnection: notifications sent while the connection was down are lost, so listeners should look for
   * work once.
   */
  async listen(channel: string, onNotify: NotifyHandler, onRestored?: () => void): Promise<() => Promise<void>> {
    let handlers = this.channels.get(channel);
    const isNew = !handlers;
    if (!handlers) this.channels.set(channel, (handlers = new Set()));
    handlers.add(onNotify);
    if (onRestored) this.restoredHooks.add(onRestored);
    const unlisten = async () => {
      handlers.delete(onNotify);
      if (onRestored) this.restoredHooks.delete(onRestored);
      if (handlers.size === 0 && this.channels.get(channel) === handlers) {
        this.channels.delete(channel);
        await this.bounded(this.client?.query(`UNLISTEN ${pg.escapeIdentifier(channel)}`)).catch(() => undefined);
      }
    };
    try {
      if (this.health.state === 'unknown' && !this.client) {
        this.firstConnect ??= this.connect().finally(() => {
          this.firstConnect = null;
        });
        await this.firstConnect;
      } else if (isNew && this.client) {
        await this.bounded(this.client.query(`LISTEN ${pg.escapeIdentifier(channel)}`));
      }
    } catch (err) {
      await unlisten();
      if (!this.client) this.scheduleReconnect(); // keeps the health state current for the other listeners
      throw err;
    }
    return unlisten;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.probeTimer) clearInterval(this.probeTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = null;
    if (client) await this.bounded(client.end()).catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ ...this.o.client, connectionTimeoutMillis: this.o.timeoutMs, keepAlive: true });
    // registered before connecting: an error event without a listener would crash the process
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('the connection ended')));
    client.on('notification', (msg) => {
      for (const handler of this.channels.get(msg.channel) ?? []) handler(msg.payload ?? '');
    });
    try {
      await client.connect();
      for (const channel of this.channels.keys()) await this.bounded(client.query(`LISTEN ${pg.escapeIdentifier(channel)}`));
    } catch (err) {
      client.removeAllListeners('end');
      client.on('error', () => undefined);
      void client.end().catch(() => undefined);
      this.markDown(err);
      throw err;
    }
    if (this.stopped) {
      await this.bounded(client.end()).catch(() => undefined);
      return;
    }
    this.client = client;
    const wasDown = this.health.state === 'down';
    this.setState('up');
    this.retryMs = FIRST_RETRY_MS;
    this.probeTimer ??= setInterval(() => void this.probe(), this.o.probeIntervalMs).unref();
    if (wasDown) {
      this.o.log?.info('database connection restored; listening for queue wake-ups again');
      for (const hook of this.restoredHooks) hook();
    }
  }

  private async probe(): Promise<void> {
    const client = this.client;
    if (!client || this.probing) return;
    this.probing = true;
    try {
      await this.bounded(client.query('SELECT 1'));
    } catch (err) {
      this.lost(client, err);
    } finally {
      this.probing = false;
    }
  }

  private lost(client: pg.Client, err: unknown): void {
    if (client !== this.client || this.stopped) return; // an old connection, already replaced
    this.client = null;
    // end() destroys the socket when a query is still waiting (a lost probe), so nothing lingers
    void client.end().catch(() => undefined);
    this.markDown(err);
    this.scheduleReconnect();
  }

  private markDown(err: unknown): void {
    this.lastError = err instanceof Error ? err.message : String(err);
    if (this.health.state === 'down') return;
    const wasUp = this.health.state === 'up';
    this.setState('down');
    // once per loss; pg's messages name the host and port at most, never the password
    if (wasUp) this.o.log?.warn({ error: this.lastError }, 'database connection lost; queue wake-ups fall back to polling until it is back');
    this.o.onDown?.();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect().catch((err: unknown) => {
        this.o.log?.debug({ error: err instanceof Error ? err.message : String(err) }, 'database still unreachable');
        this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
        this.scheduleReconnect();
      });
    }, this.retryMs);
    this.retryTimer.unref();
  }

  private setState(state: DatabaseHealth['state']): void {
    if (this.health.state !== state) this.health = { state, since: new Date() };
  }

  /** Waits at most timeoutMs for p; a query on a partitioned connection would otherwise wait forever. */
  private bounded<T>(p: Promise<T> | undefined): Promise<T | undefined> {
    if (!p) return Promise.resolve(undefined);
    return new Promise<T | undefined>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer from the database within ${this.o.timeoutMs} ms`)), this.o.timeoutMs);
      p.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }
}
