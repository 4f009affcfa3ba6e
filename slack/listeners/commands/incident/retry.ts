import { retryIncident } from '../../../../lib/incidents/steer.js';
import { code, inChannel, mrkdwn } from '../../../text.js';
import type { Subcommand } from './types.js';
import { incidentId, noMore } from './words.js';

const USAGE = '<id>';

export const retry: Subcommand = {
  name: 'retry',
  usage: USAGE,
  summary: 'retry the failed steps of a blocked incident',
  prepare(words, env) {
    const usage = `${env.command} retry ${USAGE}`;
    const id = incidentId(words, 0, usage);
    noMore(words, 1, usage);
    return {
      later: async ({ door, principal }) => {
        const steps = await retryIncident(await door.client(), id, principal);
        return inChannel(`:repeat: ${mrkdwn(principal.user)} retried ${code(id)}: ${mrkdwn(steps.join(', '))}`);
      },
    };
  },
};
