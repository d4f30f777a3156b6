// The templates module's face for content threads (app/content-worker.ts): only the tasks a thread runs, so a
// thread starts without loading the database, HTTP and service code that index.ts brings (eslint.config.js
// allows a module's thread.ts beside its index.ts).
export { isTemplateTask, runTemplateTask, type TemplateTask } from './tasks.js';
