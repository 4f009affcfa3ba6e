import { resolveIncident } from '../../../../lib/incidents/steer.js';
import { code, inChannel, mrkdwn } from '../../../text.js';
import type { Subcommand } from './types.js';
import { incidentId, noMore } from './words.js';

const USAGE = '<id>';

export const resolve: Subcommand = {
  name: 'resolve',
  usage: USAGE,
  summary: 'give the all-clear: lifts containment, then phase IV runs',
  prepare(words, env) {
    const usage = `${env.command} resolve ${USAGE}`;
    const id = incidentId(words, 0, usage);
    noMore(words, 1, usage);
    return {
      later: async ({ door, principal }) => {
        const g = await resolveIncident(await door.client(), id, principal);
        return inChannel(`:large_green_circle: ${mrkdwn(principal.user)} gave the all-clear on ${code(id)}: ${g.approvals.length}/${g.required} (${mrkdwn(g.state)})`);
      },
    };
  },
};
