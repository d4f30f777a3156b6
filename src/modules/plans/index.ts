// The plans module's public face: what app/ and other modules may use (eslint.config.js enforces it).
export { PlanService } from './service.js';
