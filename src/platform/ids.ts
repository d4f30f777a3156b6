import { randomBytes } from 'node:crypto';

/** RFC 9562 UUIDv7: time-ordered, so ids sort by creation and index well. */
export function uuidv7(now = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Email ids as the real API mints them: msg_<epochMillis>_<uuidv7>. */
export function newEmailId(now = Date.now()): string {
  return `msg_${now}_${uuidv7(now)}`;
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids in paths are never rejected for their format; a non-UUID simply matches no uuid row. */
export const isUuid = (value: string): boolean => UUID_PATTERN.test(value);

/** Scheduled emails as the real API mints them: scheduled_msg_<epochMillis>_<uuidv7>. */
export function newScheduledEmailId(now = Date.now()): string {
  return `scheduled_msg_${now}_${uuidv7(now)}`;
}
