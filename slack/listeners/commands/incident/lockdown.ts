import { UsageError } from '../../../../lib/errors.js';
import { lockdownOff, lockdownOn } from '../../../../lib/incidents/lockdown.js';
import { code, inChannel, mrkdwn } from '../../../text.js';
import type { Subcommand } from './types.js';
import { noMore, restText } from './words.js';

const USAGE = 'on|off [target] [reason…]';

export const lockdown: Subcommand = {
  name: 'lockdown',
  usage: USAGE,
  summary: 'the kill-switch as an audited incident: `on` waits until the flag is verified set; `off` is the all-clear (another responder than who turned it on)',
  prepare(words, env) {
    const usage = `${env.command} lockdown ${USAGE}`;
    const which = words[0];
    if (which !== 'on' && which !== 'off') throw new UsageError(`say on or off: ${usage}`);
    // A first word naming a configured target is the target; anything else is the reason.
    const named = words[1] !== undefined && Object.hasOwn(env.config.targets, words[1]) ? words[1] : undefined;
    const target = named ?? env.config.defaultTarget;
    const from = named === undefined ? 1 : 2;
    if (which === 'off') {
      noMore(words, from, usage);
      return {
        later: async ({ door, principal }) => {
          const r = await lockdownOff(door, { target, actor: principal });
          return inChannel(`:unlock: ${mrkdwn(principal.user)} gave the lockdown all-clear on ${code(r.id)} (target ${mrkdwn(target)}): ${r.gate.approvals.length}/${r.gate.required}; incident ${mrkdwn(r.state)}${r.lift !== undefined ? `; ${mrkdwn(r.lift)}` : ''}`);
        },
      };
    }
    const reason = restText(words, from, 'reason', 'reason', usage, false) || 'emergency lockdown';
    return {
      later: async ({ door, principal }) => {
        const { declared, status, step } = await lockdownOn(door, { target, reason, actor: principal });
        return inChannel(`:lock: ${mrkdwn(principal.user)} locked down target ${mrkdwn(target)}: ${code(declared.id)}${declared.existing ? ' (already open)' : ''} ${mrkdwn(step?.summary ?? status.state)}`);
      },
    };
  },
};
