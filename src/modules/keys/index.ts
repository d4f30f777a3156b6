// The keys module's public face: what app/ and other modules may use (eslint.config.js enforces it).
export { emailVisibility, registerAuth, requireKey, type EmailVisibility, type RouteAuth } from './auth-hook.js';
export { KeyService, type AuthenticatedKey, type PublicKey } from './service.js';
