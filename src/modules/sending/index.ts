// The sending module's public face: what app/ and other modules may use (eslint.config.js enforces it).
export { registerSendingRoutes } from './routes.js';
export { SendingService, type SenderPolicy } from './service.js';
export { retryDelayMs } from './tiers.js';
