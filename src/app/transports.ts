import type { Config } from '../config/config.js';
import type { Db } from '../platform/db/database.js';
import { createResolver } from '../platform/dns/resolver.js';
import { createMxTransport } from '../platform/mail/mx-transport.js';
import { createSmtpRelayTransport } from '../platform/mail/smtp-relay-transport.js';
import type { Transport } from '../platform/mail/types.js';
import { createCaptureTransport } from '../modules/capture/transport.js';

/** One transport per worker lane: lanes must not share SMTP connections (see DeliveryWorker). */
export function createTransport(config: Config, db: Db, maxConnections: number): Transport {
  switch (config.deliveryMode) {
    case 'smtp':
      // long-lived pooled connections: reconnecting every 100 messages (nodemailer's default) costs a handshake each time
      return createSmtpRelayTransport(config.smtpUrl!, { maxConnections, maxMessages: 10_000 });
    case 'mx':
      return createMxTransport({ resolver: createResolver(config.dnsServers), port: config.mxPort, heloName: config.heloName, allowPrivateAddresses: config.mxAllowPrivateAddresses });
    case 'capture':
      return createCaptureTransport(db);
  }
}

/** Transports of the regions that deliver differently from the global settings (REGION_<R>_SMTP_URL / _DELIVERY_MODE). */
export function createRegionTransports(config: Config, db: Db, maxConnections: number): Map<string, Transport> {
  const transports = new Map<string, Transport>();
  for (const [region, delivery] of Object.entries(config.domains.regions)) {
    if (delivery.dedicated) transports.set(region, createTransport({ ...config, deliveryMode: delivery.deliveryMode, smtpUrl: delivery.smtpUrl }, db, maxConnections));
  }
  return transports;
}
