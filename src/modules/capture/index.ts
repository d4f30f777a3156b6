// The capture module's public face: what app/ and other modules may use (eslint.config.js enforces it).
export { registerCaptureRoutes } from './routes.js';
export { createCaptureTransport } from './transport.js';
