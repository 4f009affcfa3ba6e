import { addNote } from '../../../../lib/incidents/steer.js';
import { code, inChannel, mrkdwn } from '../../../text.js';
import type { Subcommand } from './types.js';
import { incidentId, restText } from './words.js';

const USAGE = '<id> <text…>';

export const note: Subcommand = {
  name: 'note',
  usage: USAGE,
  summary: 'add a note to the incident timeline',
  prepare(words, env) {
    const usage = `${env.command} note ${USAGE}`;
    const id = incidentId(words, 0, usage);
    const text = restText(words, 1, 'note', 'note', usage);
    return {
      later: async ({ door, principal }) => {
        await addNote(await door.client(), id, text, principal);
        return inChannel(`:memo: ${mrkdwn(principal.user)} noted on ${code(id)}: ${mrkdwn(text)}`);
      },
    };
  },
};
