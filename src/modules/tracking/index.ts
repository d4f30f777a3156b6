// The tracking module's public face: what app/ and other modules may use (eslint.config.js enforces it).
export { registerTrackingRoutes } from './routes.js';
export { TrackingService, type TrackedHtml, type TrackingChoice } from './service.js';
export { BOT_USER_AGENTS } from './bots.js';
