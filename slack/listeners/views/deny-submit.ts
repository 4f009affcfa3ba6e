/**
 * The Deny modal submitted: the reason is judged before the ack (an error on its field), and
 * who the person is too (bounded to fit Slack's 3 s). Then, after the ack: the gate must still
 * be open and the person one of its approvers; the denial is recorded as a signed note
 * (`denied gate G: reason`, once-only by its Update id) and the gate message shows it. The
 * gate stays open: the message says to abort to stop the incident.
 */
import type { AllMiddlewareArgs, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import { OperationError } from '../../../lib/errors.js';
import { getStatus } from '../../../lib/incidents/queries.js';
import { addNote } from '../../../lib/incidents/steer.js';
import { DENY_REASON_BLOCK, DenyMetadataError, parseDenyMetadata, parseDenySubmission, type DenyMetadata } from '../../blocks/deny-modal.js';
import { denialNote } from '../../blocks/gate-message.js';
import { plainText } from '../../blocks/text.js';
import type { SlackDeps } from '../../deps.js';
import { userMessage } from '../../errors.js';
import { refreshGateMessage } from '../../gate-refresh.js';
import { requesterOf, resolveWithin, slackUpdateId } from '../../interactive.js';
import { code, correlationId, errorReply } from '../../text.js';
import { afterAck } from '../../after-ack.js';

type Args = SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs;

export function denySubmitted(deps: SlackDeps) {
  return async ({ ack, body, view, client }: Args): Promise<void> => {
    const cid = correlationId();
    const who = requesterOf(body);
    let log = deps.logger.child({ cid, slackTeam: who.team, slackUser: who.user, view: 'deny' });
    const onReason = (message: string) => ack({ response_action: 'errors', errors: { [DENY_REASON_BLOCK]: plainText(`${message} (ref ${cid})`, 500) } });

    let meta: DenyMetadata;
    try {
      meta = parseDenyMetadata(view.private_metadata);
    } catch (err) {
      if (!(err instanceof DenyMetadataError)) throw err;
      log.warn({ problem: err.message }, 'slack deny refused: modal metadata');
      return onReason(`${err.message}; nothing was recorded`);
    }
    log = log.child({ incident: meta.incidentId, gate: meta.gate });
    const parsed = parseDenySubmission(view.state.values);
    if (!parsed.ok) return ack({ response_action: 'errors', errors: parsed.errors });
    const verdict = await resolveWithin(deps, who);
    if (!verdict) return onReason('Slack did not confirm your account in time; nothing was recorded: submit again');
    if (!verdict.ok) {
      log.warn({ reason: verdict.reason }, `slack deny refused: ${verdict.message}`);
      return onReason(verdict.message);
    }
    await ack();
    await afterAck();

    const principal = verdict.principal;
    log = log.child({ responder: principal.user });
    const tell = (text: string) =>
      meta.channel !== undefined ? client.chat.postEphemeral({ channel: meta.channel, user: verdict.slack.user, text }) : client.chat.postMessage({ channel: verdict.slack.user, text });
    try {
      const temporal = await deps.door.client();
      const status = await getStatus(temporal, meta.incidentId);
      const gate = status.gates.find((g) => g.id === meta.gate && g.state === 'open');
      if (!gate) throw new OperationError(`gate "${meta.gate}" of ${status.id} is no longer open; nothing was recorded`);
      if (gate.argsHash !== meta.argsHash) throw new OperationError(`gate "${meta.gate}" has arguments ${gate.argsHash.slice(0, 12)}…, not the ${meta.argsHash.slice(0, 12)}… you denied: read the status again`);
      // A denial binds nothing in the workflow, so the app checks the group itself: only an approver's "no" is shown as one.
      if (!(deps.config.approvers.groups[gate.group] ?? []).includes(principal.user)) throw new OperationError(`${principal.user} is not an approver in group "${gate.group}": a denial is for the gate's approvers`);
      const updateId = slackUpdateId('deny', [verdict.slack.team, verdict.slack.user, view.id]);
      await addNote(temporal, meta.incidentId, denialNote(meta.gate, parsed.reason), principal, { updateId });
      log.info({ updateId }, 'slack: gate denial recorded');
      deps.live?.poke(meta.incidentId);
      if (meta.channel !== undefined && meta.ts !== undefined) {
        await refreshGateMessage(temporal, client, meta, { channel: meta.channel, ts: meta.ts }, deps.slack.command).catch((err: unknown) => {
          log.warn({ err: (err as Error).message }, 'slack: the denial was recorded but the gate message could not be redrawn');
        });
      }
    } catch (err) {
      const { message, expected } = userMessage(err);
      if (expected) log.info({ problem: message }, 'slack deny refused');
      else log.error({ err }, 'slack deny failed');
      await tell(errorReply(message, cid).text).catch((e: unknown) => log.error({ err: (e as Error).message }, 'slack: could not tell the person'));
      return;
    }
    await tell(`:no_entry_sign: your denial of gate ${code(meta.gate)} of ${code(meta.incidentId)} is on the incident; the gate stays open (to stop it: \`${deps.slack.command} abort ${meta.incidentId} <reason>\`)`);
  };
}
