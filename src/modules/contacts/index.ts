// The contacts module's public face: what app/ and other modules may use (eslint.config.js enforces it).
export { AudienceService, AUDIENCE_SORT_KEYS, type AudienceSortKey, type AudienceView } from './audiences.js';
export { ContactService, CONTACT_SORT_KEYS, type ConfirmOutcome, type ContactSelector, type ContactStepChange, type ContactSortKey, type FormSubscribeOutcome } from './service.js';
export { registerContactRoutes } from './routes.js';
export { ContactImportService, IMPORT_QUEUE, MAX_REPORTED_ERRORS, type ImportLimits, type ImportProgress } from './imports.js';
export { importView, registerContactImportRoutes } from './import-routes.js';
export { splitName } from './names.js';
