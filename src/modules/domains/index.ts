// The domains module's public face: what app/, cli/ and other modules may use (eslint.config.js enforces it).
export { createOutgoingPreparer, type OutgoingMessage } from './outgoing.js';
export { registerDomainRoutes } from './routes.js';
export { DomainSenderPolicy } from './sender-policy.js';
export { DomainService, VERIFY_QUEUE, type DomainServiceDeps } from './service.js';
export type { DomainView } from './views.js';
