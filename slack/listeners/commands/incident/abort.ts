import { abortIncident } from '../../../../lib/incidents/steer.js';
import { code, inChannel, mrkdwn } from '../../../text.js';
import type { Subcommand } from './types.js';
import { incidentId, restText } from './words.js';

const USAGE = '<id> <reason…>';

export const abort: Subcommand = {
  name: 'abort',
  usage: USAGE,
  summary: 'stop the incident and undo its reversible steps, newest first',
  prepare(words, env) {
    const usage = `${env.command} abort ${USAGE}`;
    const id = incidentId(words, 0, usage);
    const reason = restText(words, 1, 'reason', 'reason', usage);
    return {
      later: async ({ door, principal }) => {
        const state = await abortIncident(await door.client(), id, reason, principal);
        return inChannel(`:octagonal_sign: ${mrkdwn(principal.user)} aborted ${code(id)} (${mrkdwn(reason)}): ${mrkdwn(state)}`);
      },
    };
  },
};
