// The suppressions module's public face: what app/ and other modules may use (eslint.config.js enforces it).
export { SuppressionService, type ListChange, type Suppression, type SuppressionEntry } from './service.js';
