import { ephemeral } from '../../../text.js';
import type { Subcommand } from './types.js';

export const declare: Subcommand = {
  name: 'declare',
  usage: '',
  summary: 'declare an incident (from Slack: lands next; use `firebreak declare` meanwhile)',
  prepare: () => ({ now: ephemeral('declare from Slack lands next; use `firebreak declare <runbook> …` for now') }),
};
