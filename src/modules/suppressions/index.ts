// The suppressions module's public face: what app/ and other modules may use (eslint.config.js enforces it).
export { SOFT_BOUNCE_LIMIT, SuppressionService, type ListChange, type Suppression, type SuppressionEntry, type SuppressionListRow } from './service.js';
export { registerSuppressionRoutes } from './routes.js';
