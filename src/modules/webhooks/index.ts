// The webhooks module's public face: what app/ and other modules may use (eslint.config.js enforces it).
export { WebhookService, MAX_ENDPOINTS_PER_WORKSPACE, WEBHOOKS_TOPIC, type EndpointView } from './service.js';
export { WebhookDispatcher, fanOut, nextRetryAt, RETRY_SCHEDULE_MS, FAILING_AFTER_MS } from './dispatcher.js';
export { registerWebhookRoutes } from './routes.js';
export { WEBHOOK_EVENTS, EMAIL_EVENT_MAP, DOMAIN_EVENT_MAP, CONTACT_EVENT_MAP, webhookEventsOf } from './event-map.js';
export { signatureHeaders, standardKey, generateSecret } from './signing.js';
