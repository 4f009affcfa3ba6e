/**
 * The declare modal submitted. Everything that can be judged without Temporal is judged before
 * the ack, so a problem lands on its field (`response_action: errors`) and nothing starts:
 * the form (the CLI's param rules), who the person is (users.info, bounded to fit Slack's
 * 3 s), then the incident service's own checks (prepareDeclaration). Then the modal closes
 * and the incident starts; the person is told its id where they typed the command.
 * The view id is the dedup key: a submission delivered again joins the incident it started.
 */
import type { AllMiddlewareArgs, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import { prepareDeclaration, startDeclared } from '../../../lib/incidents/declare.js';
import type { PreparedDeclaration } from '../../../lib/incidents/types.js';
import { ParamError } from '../../../lib/runbook/errors.js';
import type { RunbookDoc } from '../../../lib/runbook/types.js';
import { DECLARE_BLOCKS, DeclareMetadataError, parseDeclareMetadata, parseDeclareSubmission, type DeclareMetadata } from '../../blocks/declare-modal.js';
import { plainText } from '../../blocks/text.js';
import { declareFormInput, declareRunbook } from '../../declare-form.js';
import type { SlackDeps } from '../../deps.js';
import { userMessage } from '../../errors.js';
import { requesterOf, resolveWithin } from '../../interactive.js';
import { code, correlationId, errorReply, mrkdwn } from '../../text.js';
import { afterAck } from '../../after-ack.js';

type Args = SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs;

const ERROR_MAX = 500;

/** Why a declaration was refused, as the person should read it (the runbook loader's and params' errors included). */
function refusal(err: unknown): { message: string; expected: boolean } {
  if (err instanceof ParamError) return { message: err.problems.join('; '), expected: true };
  return userMessage(err);
}

export function declareSubmitted(deps: SlackDeps) {
  const { config } = deps;
  return async ({ ack, body, view, client }: Args): Promise<void> => {
    const cid = correlationId();
    const who = requesterOf(body);
    let log = deps.logger.child({ cid, slackTeam: who.team, slackUser: who.user, view: 'declare' });
    const onField = (block: string, message: string) => ack({ response_action: 'errors', errors: { [block]: plainText(`${message} (ref ${cid})`, ERROR_MAX) } });

    let meta: DeclareMetadata;
    let runbook: RunbookDoc | undefined;
    try {
      meta = parseDeclareMetadata(view.private_metadata);
      runbook = meta.runbook === undefined ? undefined : declareRunbook(config, meta.runbook);
    } catch (err) {
      const { message, expected } = err instanceof DeclareMetadataError ? { message: err.message, expected: true } : refusal(err);
      log.warn({ problem: message }, 'slack declare refused: modal metadata');
      if (!expected) throw err;
      return onField(DECLARE_BLOCKS.runbook, `${message}; nothing was declared`);
    }
    const parsed = parseDeclareSubmission(view.state.values, runbook, { targets: declareFormInput(config).targets });
    if (!parsed.ok) {
      log.info({ fields: Object.keys(parsed.errors) }, 'slack declare refused: form errors');
      return ack({ response_action: 'errors', errors: parsed.errors });
    }
    const verdict = await resolveWithin(deps, who);
    if (!verdict) {
      log.warn('slack declare refused: users.info did not answer in time');
      return onField(DECLARE_BLOCKS.runbook, 'Slack did not confirm your account in time; nothing was declared: submit again');
    }
    if (!verdict.ok) {
      log.warn({ reason: verdict.reason }, `slack declare refused: ${verdict.message}`);
      return onField(DECLARE_BLOCKS.runbook, verdict.message);
    }
    log = log.child({ responder: verdict.principal.user, runbook: parsed.request.runbook });
    let prepared: PreparedDeclaration;
    try {
      prepared = prepareDeclaration(config, { ...parsed.request, dedupKey: `slack-view:${view.id}`, actor: verdict.principal });
    } catch (err) {
      const { message, expected } = refusal(err);
      if (!expected) {
        log.error({ err }, 'slack declare failed');
        return onField(DECLARE_BLOCKS.runbook, message);
      }
      log.info({ problem: message }, 'slack declare refused');
      return onField(/drill/i.test(message) ? DECLARE_BLOCKS.mode : DECLARE_BLOCKS.runbook, message);
    }
    await ack();
    await afterAck();

    const user = verdict.slack.user;
    // Ephemeral where the command was typed; a DM where that is not possible (no channel, or the app is not in it).
    const tell = async (text: string) => {
      if (meta.channel !== undefined && (await client.chat.postEphemeral({ channel: meta.channel, user, text }).then(() => true, () => false))) return;
      await client.chat.postMessage({ channel: user, text });
    };
    try {
      const r = await startDeclared(await deps.door.client(), prepared);
      log.info({ incident: r.id, existing: r.existing }, 'slack: incident declared');
      deps.live?.poke(r.id);
      const what = `${mrkdwn(prepared.input.runbook.doc.title)} (${mrkdwn(prepared.input.severity)}, ${mrkdwn(prepared.input.mode)}, target ${mrkdwn(prepared.input.target)})`;
      await tell(r.existing ? `:rotating_light: already declared: ${code(r.id)} ${what}` : `:rotating_light: ${mrkdwn(verdict.principal.user)} declared ${code(r.id)} ${what}: \`${deps.slack.command} status ${r.id}\``);
    } catch (err) {
      const { message, expected } = refusal(err);
      if (expected) log.info({ problem: message }, 'slack declare refused');
      else log.error({ err }, 'slack declare failed');
      await tell(errorReply(message, cid).text).catch((e: unknown) => log.error({ err: (e as Error).message }, 'slack: could not tell the declarer'));
    }
  };
}
