import { code, ephemeral } from '../../../text.js';
import type { Subcommand } from './types.js';

export const help: Subcommand = {
  name: 'help',
  usage: '',
  summary: 'this list',
  prepare: (_words, env) => ({
    now: ephemeral(
      [
        `*${env.command}* — Firebreak incidents, with the same rules as the CLI (your decisions are signed by the Slack app for your responder entry)`,
        ...env.subcommands.map((s) => `• ${code(`${env.command} ${s.name}${s.usage ? ` ${s.usage}` : ''}`)} ${s.summary}`),
      ].join('\n'),
    ),
  }),
};
