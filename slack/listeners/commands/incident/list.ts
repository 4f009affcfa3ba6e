import { listIncidents } from '../../../../lib/incidents/queries.js';
import { ephemeral, listText } from '../../../text.js';
import type { Subcommand } from './types.js';
import { noMore } from './words.js';

export const list: Subcommand = {
  name: 'list',
  usage: '',
  summary: 'the 20 newest incidents',
  prepare(words, env) {
    noMore(words, 0, `${env.command} list`);
    return { later: async ({ door }) => ephemeral(listText(await listIncidents(await door.client(), { limit: 20 }), 'Incidents')) };
  },
};
