import type { ContactStepChange } from '../../contacts/index.js';
import type { StepAction } from '../graph.js';

/** An action step as the contacts module's change (ContactService.applyStepChange). */
export function contactChange(action: StepAction): ContactStepChange {
  switch (action.kind) {
    case 'add_tag':
    case 'remove_tag':
      return { kind: action.kind, tag: action.tag };
    case 'update_field':
      return { kind: 'update_field', field: action.field, value: action.value };
    case 'subscribe':
    case 'unsubscribe':
      return { kind: action.kind, audienceId: action.audience_id };
  }
}
