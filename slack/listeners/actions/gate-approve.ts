/**
 * The gate's Approve button: a Slack-attested vote for exactly the incident, gate and argument
 * hash the button was drawn for. Acked at once; the clicker's identity and the vote come
 * after. The workflow judges the vote (two-person rule, approver group, hash, repeat); a
 * refusal goes to the clicker only, a counted vote redraws the message in place. The Update
 * id makes the vote once-only across double clicks, Slack's retries and app restarts.
 */
import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { approveGate } from '../../../lib/incidents/steer.js';
import { GateValueError, parseGateValue, type GateRef } from '../../blocks/gate-message.js';
import type { SlackDeps } from '../../deps.js';
import { userMessage } from '../../errors.js';
import { clickedMessage, refreshGateMessage } from '../../gate-refresh.js';
import { requesterOf, slackUpdateId } from '../../interactive.js';
import { correlationId, errorReply } from '../../text.js';
import { afterAck } from '../../after-ack.js';

type Args = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

export function gateApprove(deps: SlackDeps) {
  return async ({ ack, body, action, respond, client }: Args): Promise<void> => {
    await ack();
    await afterAck();
    const cid = correlationId();
    const who = requesterOf(body);
    let log = deps.logger.child({ cid, slackTeam: who.team, slackUser: who.user, action: 'gate.approve' });
    const refuse = (message: string) => respond(errorReply(message, cid)).then(() => undefined);
    let ref: GateRef;
    try {
      ref = parseGateValue(action.value);
    } catch (err) {
      if (!(err instanceof GateValueError)) throw err;
      log.warn({ problem: err.message }, 'slack click refused: not a gate button Firebreak drew');
      return refuse(`${err.message}; nothing was done`);
    }
    log = log.child({ incident: ref.incidentId, gate: ref.gate });
    const verdict = await deps.identity.resolve(who);
    if (!verdict.ok) {
      log.warn({ reason: verdict.reason }, `slack click refused: ${verdict.message}`);
      return refuse(verdict.message);
    }
    log = log.child({ responder: verdict.principal.user });
    const updateId = slackUpdateId('approve', [verdict.slack.team, verdict.slack.user, ref.incidentId, ref.gate, ref.argsHash]);
    let temporal;
    try {
      temporal = await deps.door.client();
      const g = await approveGate(temporal, ref.incidentId, ref.gate, verdict.principal, undefined, ref.argsHash, { updateId });
      log.info({ approvals: g.approvals.length, required: g.required, state: g.state, updateId }, 'slack: gate vote counted');
    } catch (err) {
      const { message, expected } = userMessage(err);
      if (expected) log.info({ problem: message }, 'slack click refused');
      else log.error({ err }, 'slack click failed');
      return refuse(message);
    }
    deps.live?.poke(ref.incidentId);
    const where = clickedMessage(body);
    if (!where) return;
    await refreshGateMessage(temporal, client, ref, where, deps.slack.command).catch((err: unknown) => {
      log.warn({ err: (err as Error).message }, 'slack: the vote counted but the gate message could not be redrawn');
    });
  };
}
