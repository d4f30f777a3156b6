// The delivery module's public face: what workers/, app/ and other modules may use (eslint.config.js enforces it).
export { toMailContent } from './compose-row.js';
export { decideCompletion } from './outcome.js';
export {
  claimMessages,
  completeAttempts,
  completionsThatFit,
  queueStats,
  releaseOrphanedLeases,
  renewMessageLeases,
  type AttemptCompletion,
  type ClaimedMessage,
  type ClaimedRecipient,
  type RecipientResult,
} from './store.js';
export { largeHtmlTextAlternative, type HtmlToTextTask } from './text-alternative.js';
export { recordAsyncOutcome, type AsyncOutcome, type AsyncOutcomeResult } from './async-outcome.js';
