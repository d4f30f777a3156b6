// The templates module's public face: what app/ and other modules may use (eslint.config.js enforces it);
// content threads use thread.ts.
export { TemplateRenderer } from './renderer.js';
export { registerTemplateRoutes } from './routes.js';
export { TemplateService } from './service.js';
