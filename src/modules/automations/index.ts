// The automations module's public face: what app/ and other modules may use (eslint.config.js enforces it).
export { AUDIENCE_TRIGGER_QUEUE, runAudienceTrigger } from './audience-trigger.js';
export { DATE_AT_QUEUE, DATE_SCAN_QUEUE, ENSURE_DATE_SCANS_QUEUE, ensureDateScans, runDateScan, runFixedAt, scheduleDateTrigger } from './date-trigger.js';
export { isValidTimeZone } from './time-zones.js';
