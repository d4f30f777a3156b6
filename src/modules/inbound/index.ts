// The inbound module's public face: what app/ and other modules may use (eslint.config.js enforces it).
export { InboundService, type InboundResult } from './service.js';
export { classifyStatus, readReport, type DsnRecipient, type InboundReport } from './report.js';
