// The automations module's public face: what app/, cli/ and other modules may use (eslint.config.js enforces it).
export { AutomationService, MAX_AUTOMATIONS_PER_WORKSPACE, type AutomationDetail, type AutomationServiceDeps } from './service.js';
export { registerAutomationRoutes } from './routes.js';
export { registerPublicAutomationRoutes } from './public-routes.js';
export { automationDetailView, automationItemView } from './views.js';
export { AUTOMATION_STEP_QUEUE, enrollContacts, stepDedupeKey, type EnrollRequest, type StepJobPayload } from './enrollments.js';
export * from './graph.js';
export { graphProblems, parseSteps, type GraphProblem } from './graph-check.js';
export { AUDIENCE_TRIGGER_QUEUE, runAudienceTrigger } from './audience-trigger.js';
export { DATE_AT_QUEUE, DATE_SCAN_QUEUE, ENSURE_DATE_SCANS_QUEUE, ensureDateScans, runDateScan, runFixedAt, scheduleDateTrigger } from './date-trigger.js';
export { isValidTimeZone } from './time-zones.js';
export { StepRunner, type StepRunnerDeps } from './step-runner.js';
export { wakeWaitingSteps } from './engine-store.js';
