// The automations module's public face: what app/ and other modules may use (eslint.config.js enforces it).
export { AUDIENCE_TRIGGER_QUEUE, runAudienceTrigger } from './audience-trigger.js';
export { DATE_AT_QUEUE, DATE_SCAN_QUEUE, runDateScan, runFixedAt, scheduleDateTrigger } from './date-trigger.js';
export { isValidTimeZone } from './time-zones.js';
