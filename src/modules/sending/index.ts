// The sending module's public face: what app/ and other modules may use (eslint.config.js enforces it).
export { registerSendingRoutes, SEND_PREFIXES } from './routes.js';
export { SendingService, UNSUBSCRIBE_TOKEN_PURPOSE, type AutomationEmail, type PreparedEmail, type SenderPolicy } from './service.js';
export { retryDelayMs, TIER_POLICIES } from './tiers.js';
export { isValidEmail } from './addresses.js';
