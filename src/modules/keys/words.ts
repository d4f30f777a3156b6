// The keys module's light face: names a caller may use without loading the module (the CLI's help does).
export { ADMIN_SCOPES, type AdminScope } from './key-format.js';
