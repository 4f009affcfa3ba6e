/**
 * `/incident <subcommand> …`. The ack goes out first, always: what can be judged from the
 * signed body alone (workspace, subcommand, arguments, length) is answered in the ack
 * itself; who the person is (users.info) and the work (Temporal) come after it, answered
 * through `response_url`. Errors are ephemeral and carry a ref that is also in the log.
 */
import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import { UsageError } from '../../../lib/errors.js';
import type { SlackDeps } from '../../deps.js';
import { userMessage } from '../../errors.js';
import { correlationId, errorReply, type Reply } from '../../text.js';
import { parseText, SUBCOMMANDS } from './incident/index.js';
import type { Prepared } from './incident/types.js';
import { afterAck } from '../../after-ack.js';

type Args = SlackCommandMiddlewareArgs & AllMiddlewareArgs;

/** Subcommands that change the incident named by their first word: its live status message is refreshed right after. */
const CHANGES_INCIDENT = new Set(['approve', 'abort', 'resolve', 'note', 'retry']);

export function incidentCommand(deps: SlackDeps) {
  const { slack, identity, door, config } = deps;
  return async ({ command, ack, respond, client }: Args): Promise<void> => {
    const cid = correlationId();
    const who = { team: command.team_id, enterprise: command.enterprise_id, user: command.user_id };
    let log = deps.logger.child({ cid, slackTeam: who.team, slackUser: who.user });
    const answer = async (reply: Reply): Promise<void> => {
      await respond(reply);
    };
    const ackWith = (reply?: Reply) => ack(reply);

    const workspace = identity.workspaceRefusal(who);
    if (workspace && !workspace.ok) {
      log.warn({ reason: workspace.reason }, `slack request refused: ${workspace.message}`);
      await ackWith(errorReply(workspace.message, cid));
      return;
    }
    let prepared: Prepared;
    let changed: string | undefined;
    try {
      if (command.command !== slack.command) throw new UsageError(`this app serves ${slack.command}, not ${String(command.command).slice(0, 40)}`);
      const { sub, words } = parseText(command.text, slack.command);
      log = log.child({ sub: sub.name });
      if (CHANGES_INCIDENT.has(sub.name)) changed = words[0];
      prepared = sub.prepare(words, { command: slack.command, config, subcommands: SUBCOMMANDS });
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      log.info({ problem: err.message }, 'slack command refused: usage');
      await ackWith(errorReply(err.message, cid));
      return;
    }
    if ('now' in prepared) {
      await ackWith(prepared.now);
      return;
    }
    await ackWith();
    await afterAck();

    if ('modal' in prepared) {
      const channel = /^[A-Z0-9]{1,40}$/.test(command.channel_id) ? command.channel_id : undefined;
      await prepared.modal({ web: client, triggerId: command.trigger_id, ...(channel && { channel }) }).catch(async (err: unknown) => {
        const { message, expected } = userMessage(err);
        if (expected) log.info({ problem: message }, 'slack command refused');
        else log.error({ err: (err as Error).message }, 'slack: could not open the modal');
        await answer(errorReply(expected ? message : 'could not open the form (views.open failed); nothing was done', cid));
      });
      return;
    }

    await (async () => {
      const verdict = await identity.resolve(who);
      if (!verdict.ok) {
        log.warn({ reason: verdict.reason }, `slack request refused: ${verdict.message}`);
        return answer(errorReply(verdict.message, cid));
      }
      log = log.child({ responder: verdict.principal.user });
      try {
        const reply = await prepared.later({ door, principal: verdict.principal, command: slack.command });
        log.info('slack command done');
        if (changed !== undefined) deps.live?.poke(changed);
        return answer(reply);
      } catch (err) {
        const { message, expected } = userMessage(err);
        if (expected) log.info({ problem: message }, 'slack command refused');
        else log.error({ err }, 'slack command failed');
        return answer(errorReply(message, cid));
      }
    })().catch((err: unknown) => log.error({ err: (err as Error).message }, 'slack: could not answer through response_url'));
  };
}
