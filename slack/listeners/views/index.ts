import type { App, ViewSubmitAction } from '@slack/bolt';
import { DECLARE_CALLBACK_ID } from '../../blocks/declare-modal.js';
import { DENY_CALLBACK_ID } from '../../blocks/deny-modal.js';
import type { SlackDeps } from '../../deps.js';
import { declareSubmitted } from './declare-submit.js';
import { denySubmitted } from './deny-submit.js';

export function register(app: App, deps: SlackDeps): void {
  app.view<ViewSubmitAction>(DECLARE_CALLBACK_ID, declareSubmitted(deps));
  app.view<ViewSubmitAction>(DENY_CALLBACK_ID, denySubmitted(deps));
}
