// The emails module's public face: what app/ and other modules may use (eslint.config.js enforces it).
export { registerEmailRoutes } from './routes.js';
export { EmailService, type EmailView, type PageContent, type UnsubscribeTarget } from './service.js';
