import { declareModal } from '../../../blocks/declare-modal.js';
import { declareFormInput, declareRunbook } from '../../../declare-form.js';
import type { Subcommand } from './types.js';
import { noMore } from './words.js';

const USAGE = '[runbook]';

export const declare: Subcommand = {
  name: 'declare',
  usage: USAGE,
  summary: 'open the declare form (a runbook named here shows its parameters at once)',
  prepare(words, env) {
    noMore(words, 1, `${env.command} declare ${USAGE}`);
    // An unknown runbook is answered in the ack; the form itself is read after it.
    const runbook = words[0] === undefined ? undefined : declareRunbook(env.config, words[0]);
    return {
      modal: async ({ web, triggerId, channel }) => {
        const view = declareModal(declareFormInput(env.config, { ...(runbook && { runbook }), ...(channel !== undefined && { channel }) }));
        await web.views.open({ trigger_id: triggerId, view });
      },
    };
  },
};
