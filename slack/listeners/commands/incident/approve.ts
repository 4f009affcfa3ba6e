import { UsageError } from '../../../../lib/errors.js';
import { approveGate } from '../../../../lib/incidents/steer.js';
import { code, inChannel, mrkdwn } from '../../../text.js';
import type { Subcommand } from './types.js';
import { incidentId, noMore } from './words.js';

const USAGE = '<id> <gate> [--hash PREFIX]';

export const approve: Subcommand = {
  name: 'approve',
  usage: USAGE,
  summary: 'approve a gate as yourself (never the declarer); `--hash`: 12+ hex digits of the arguments status shows',
  prepare(words, env) {
    const usage = `${env.command} approve ${USAGE}`;
    const id = incidentId(words, 0, usage);
    const gate = words[1];
    if (gate === undefined || gate.startsWith('--')) throw new UsageError(`missing the gate: ${usage}`);
    let hash: string | undefined;
    if (words[2] !== undefined) {
      if (words[2] !== '--hash' || words[3] === undefined) throw new UsageError(`unexpected "${words[2]}": ${usage}`);
      hash = words[3];
      if (!/^[0-9a-f]{12,64}$/.test(hash)) throw new UsageError(`--hash takes at least 12 hex digits of the gate's argument hash (as status shows it), not "${hash.slice(0, 70)}"`);
    }
    noMore(words, hash === undefined ? 2 : 4, usage);
    return {
      later: async ({ door, principal }) => {
        const g = await approveGate(await door.client(), id, gate, principal, undefined, hash);
        return inChannel(`:white_check_mark: ${mrkdwn(principal.user)} approved gate ${code(gate)} of ${code(id)}: ${g.approvals.length}/${g.required} (${mrkdwn(g.state)})`);
      },
    };
  },
};
