// The templates module's public face: what app/ (including the content threads) and other modules may use
// (eslint.config.js enforces it).
export { TemplateRenderer } from './renderer.js';
export { registerTemplateRoutes } from './routes.js';
export { TemplateService } from './service.js';
export { isTemplateTask, runTemplateTask, type TemplateTask } from './tasks.js';
