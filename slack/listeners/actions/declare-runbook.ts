/**
 * A runbook chosen in the declare modal (a block action inside the view): the form is
 * redrawn with that runbook's params (`views.update`, guarded by the view's hash so a newer
 * edit is never overwritten), keeping what was typed in the fixed fields.
 */
import type { AllMiddlewareArgs, BlockAction, SlackActionMiddlewareArgs, StaticSelectAction } from '@slack/bolt';
import { UsageError } from '../../../lib/errors.js';
import { declareInitialFrom, declareModal, parseDeclareMetadata } from '../../blocks/declare-modal.js';
import { declareFormInput, declareRunbook } from '../../declare-form.js';
import type { SlackDeps } from '../../deps.js';
import { requesterOf } from '../../interactive.js';
import { afterAck } from '../../after-ack.js';

type Args = SlackActionMiddlewareArgs<BlockAction<StaticSelectAction>> & AllMiddlewareArgs;

export function declareRunbookChosen(deps: SlackDeps) {
  return async ({ ack, body, action, client }: Args): Promise<void> => {
    await ack();
    await afterAck();
    const who = requesterOf(body);
    const log = deps.logger.child({ slackTeam: who.team, slackUser: who.user, action: 'declare.runbook' });
    const view = body.view;
    if (!view || deps.identity.workspaceRefusal(who)) {
      log.warn('slack: a runbook choice outside a declare modal of our workspace was ignored');
      return;
    }
    try {
      const meta = parseDeclareMetadata(view.private_metadata);
      const runbook = declareRunbook(deps.config, action.selected_option?.value ?? '');
      const form = declareFormInput(deps.config, { runbook, ...(meta.channel !== undefined && { channel: meta.channel }), initial: declareInitialFrom(view.state?.values) });
      await client.views.update({ view_id: view.id, hash: view.hash, view: declareModal(form) });
    } catch (err) {
      // The submission judges the runbook again and says what is wrong on its field.
      if (err instanceof UsageError) log.info({ problem: err.message }, 'slack: runbook choice not redrawn');
      else log.warn({ err: (err as Error).message }, 'slack: could not redraw the declare modal');
    }
  };
}
