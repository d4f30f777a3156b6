import type { Config } from '../config/config.js';
import type { Db } from '../platform/db/database.js';
import { createResolver } from '../platform/dns/resolver.js';
import type { Logger } from '../platform/logger.js';
import { createMxTransport } from '../platform/mail/mx-transport.js';
import { createSmtpRelayTransport, type RelayReachability } from '../platform/mail/smtp-relay-transport.js';
import { redactUrlPasswords } from '../config/redact.js';
import { withSimulator } from '../platform/mail/simulator.js';
import type { Transport } from '../platform/mail/types.js';
import { createCaptureTransport } from '../modules/capture/index.js';

/** Relays a logger was already told about: every lane has transports of its own, the operator needs one line. */
const toldAbout = new WeakMap<Logger, Set<string>>();

function warnCredentialsWithheld(log: Logger | undefined, setting: string): (relay: string) => void {
  return (relay) => {
    if (!log) return;
    const told = toldAbout.get(log) ?? new Set<string>();
    toldAbout.set(log, told);
    if (told.has(relay)) return;
    told.add(relay);
    log.warn(
      { relay, setting },
      `relay ${relay} (${setting}) offers no TLS, so its credentials were not sent and mail through it is deferred: ` +
        'use smtps://, enable STARTTLS on the relay, or set SMTP_ALLOW_INSECURE_AUTH=true to send the password in clear text',
    );
  };
}

/** Relays a logger was told are down: every lane and region has transports of its own, and one outage is one warning. */
const relaysDown = new WeakMap<Logger, Set<string>>();

/** A warning when a relay stops answering and one line when it answers again, shared by every transport of this logger. */
function reportReachability(log: Logger | undefined, setting: string): (change: RelayReachability) => void {
  return (change) => {
    if (!log) return;
    const down = relaysDown.get(log) ?? new Set<string>();
    relaysDown.set(log, down);
    if (!change.reachable && !down.has(change.relay)) {
      down.add(change.relay);
      log.warn({ relay: change.relay, setting, err: redactUrlPasswords(change.error) }, `relay ${change.relay} (${setting}) cannot be reached; mail through it is deferred and retried until it answers`);
    } else if (change.reachable && down.delete(change.relay)) {
      log.info({ relay: change.relay, setting }, `relay ${change.relay} (${setting}) answers again`);
    }
  };
}

/**
 * One transport per worker lane: lanes must not share SMTP connections (see DeliveryWorker). In every mode the
 * simulator addresses (platform/mail/simulator.ts) are answered before the mode's transport sees the message.
 */
export function createTransport(config: Config, db: Db, maxConnections: number, log?: Logger, smtpUrlSetting = 'SMTP_URL'): Transport {
  return withSimulator(createModeTransport(config, db, maxConnections, log, smtpUrlSetting));
}

function createModeTransport(config: Config, db: Db, maxConnections: number, log: Logger | undefined, smtpUrlSetting: string): Transport {
  switch (config.deliveryMode) {
    case 'smtp':
      // long-lived pooled connections: reconnecting every 100 messages (nodemailer's default) costs a handshake each time
      return createSmtpRelayTransport(config.smtpUrl!, {
        maxConnections,
        maxMessages: 10_000,
        allowInsecureAuth: config.smtpAllowInsecureAuth,
        onCredentialsWithheld: warnCredentialsWithheld(log, smtpUrlSetting),
        onReachability: reportReachability(log, smtpUrlSetting),
      });
    case 'mx':
      return createMxTransport({ resolver: createResolver(config.dnsServers), port: config.mxPort, heloName: config.heloName, allowPrivateAddresses: config.mxAllowPrivateAddresses });
    case 'capture':
      return createCaptureTransport(db);
  }
}

/** Transports of the regions that deliver differently from the global settings (REGION_<R>_SMTP_URL / _DELIVERY_MODE). */
export function createRegionTransports(config: Config, db: Db, maxConnections: number, log?: Logger): Map<string, Transport> {
  const transports = new Map<string, Transport>();
  for (const [region, delivery] of Object.entries(config.domains.regions)) {
    if (!delivery.dedicated) continue;
    const setting = delivery.smtpUrl === config.smtpUrl ? 'SMTP_URL' : `REGION_${region.toUpperCase().replace(/-/g, '_')}_SMTP_URL`;
    transports.set(region, createTransport({ ...config, deliveryMode: delivery.deliveryMode, smtpUrl: delivery.smtpUrl }, db, maxConnections, log, setting));
  }
  return transports;
}
