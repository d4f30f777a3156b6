// The automations module's public face: what app/ and other modules may use (eslint.config.js enforces it).
export { AUTOMATION_STEP_QUEUE, enrollContacts, stepDedupeKey, type EnrollRequest, type StepJobPayload } from './enrollments.js';
export { StepRunner, type StepRunnerDeps } from './step-runner.js';
export { wakeWaitingSteps } from './engine-store.js';
