import { getStatus, listIncidents } from '../../../../lib/incidents/queries.js';
import { ephemeral, listText, statusText } from '../../../text.js';
import type { Subcommand } from './types.js';
import { incidentId, noMore } from './words.js';

const USAGE = '[id]';

export const status: Subcommand = {
  name: 'status',
  usage: USAGE,
  summary: 'an incident: state, phase, every step, open gates (without an id: the open incidents)',
  prepare(words, env) {
    noMore(words, 1, `${env.command} status ${USAGE}`);
    if (!words.length) {
      return { later: async ({ door }) => ephemeral(listText(await listIncidents(await door.client(), { open: true, limit: 20 }), 'Open incidents')) };
    }
    const id = incidentId(words, 0, `${env.command} status ${USAGE}`);
    return { later: async ({ door, command }) => ephemeral(statusText(await getStatus(await door.client(), id), command)) };
  },
};
