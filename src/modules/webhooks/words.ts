// The webhooks module's light face: names a caller may use without loading the module (the CLI's help does).
export { WEBHOOK_EVENTS } from './event-map.js';
export { SIGNATURE_SCHEMES } from './signing.js';
