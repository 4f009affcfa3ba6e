import type { App, BlockAction, ButtonAction, StaticSelectAction } from '@slack/bolt';
import { DECLARE_RUNBOOK_ACTION } from '../../blocks/declare-modal.js';
import { GATE_APPROVE_ACTION, GATE_DENY_ACTION } from '../../blocks/gate-message.js';
import type { SlackDeps } from '../../deps.js';
import { declareRunbookChosen } from './declare-runbook.js';
import { gateApprove } from './gate-approve.js';
import { gateDeny } from './gate-deny.js';

export function register(app: App, deps: SlackDeps): void {
  app.action<BlockAction<ButtonAction>>(GATE_APPROVE_ACTION, gateApprove(deps));
  app.action<BlockAction<ButtonAction>>(GATE_DENY_ACTION, gateDeny(deps));
  app.action<BlockAction<StaticSelectAction>>(DECLARE_RUNBOOK_ACTION, declareRunbookChosen(deps));
}
