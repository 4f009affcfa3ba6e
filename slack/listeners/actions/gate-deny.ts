/**
 * The gate's Deny button. Deny has no workflow counterpart: it opens a modal asking why (the
 * trigger_id lives 3 s, so nothing waits on Temporal or users.info first); the submission
 * records the reason as a signed note (slack/listeners/views/deny-submit.ts).
 */
import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { denyModal } from '../../blocks/deny-modal.js';
import { GateValueError, parseGateValue, type GateRef } from '../../blocks/gate-message.js';
import type { SlackDeps } from '../../deps.js';
import { clickedMessage } from '../../gate-refresh.js';
import { requesterOf } from '../../interactive.js';
import { correlationId, errorReply } from '../../text.js';
import { afterAck } from '../../after-ack.js';

type Args = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

export function gateDeny(deps: SlackDeps) {
  return async ({ ack, body, action, respond, client }: Args): Promise<void> => {
    await ack();
    await afterAck();
    const cid = correlationId();
    const who = requesterOf(body);
    const log = deps.logger.child({ cid, slackTeam: who.team, slackUser: who.user, action: 'gate.deny' });
    const refuse = (message: string) => respond(errorReply(message, cid)).then(() => undefined);
    const workspace = deps.identity.workspaceRefusal(who);
    if (workspace && !workspace.ok) {
      log.warn({ reason: workspace.reason }, `slack click refused: ${workspace.message}`);
      return refuse(workspace.message);
    }
    let ref: GateRef;
    try {
      ref = parseGateValue(action.value);
    } catch (err) {
      if (!(err instanceof GateValueError)) throw err;
      log.warn({ problem: err.message }, 'slack click refused: not a gate button Firebreak drew');
      return refuse(`${err.message}; nothing was done`);
    }
    const where = clickedMessage(body);
    try {
      await client.views.open({ trigger_id: body.trigger_id, view: denyModal({ ...ref, ...(where && { channel: where.channel, ts: where.ts }) }) });
    } catch (err) {
      log.error({ err: (err as Error).message }, 'slack: could not open the deny modal');
      return refuse('could not open the Deny form (views.open failed); nothing was recorded');
    }
  };
}
