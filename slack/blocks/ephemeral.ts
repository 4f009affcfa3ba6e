/**
 * Replies only the person sees (`response_url` with `response_type: 'ephemeral'`, or
 * `chat.postEphemeral`): an error with the correlation id that is also in the log line, and
 * the help text of the slash command. Pure.
 */
import type { types } from '@slack/bolt';
import { md, mrkdwn, SLACK_LIMITS } from './text.js';

export interface EphemeralReply {
  response_type: 'ephemeral';
  /** Slack's `replace_original: false`: an error never overwrites the message it answers. */
  replace_original: false;
  text: string;
  blocks: types.KnownBlock[];
}

/** The subcommands of the slash command, as `help` lists them. */
export const SUBCOMMANDS: ReadonlyArray<{ usage: string; does: string }> = [
  { usage: 'declare', does: 'open the declare form: runbook, target, severity, mode, summary and the runbook’s parameters' },
  { usage: 'status [id]', does: 'an incident: phase, every step, open gates, timeline (in an incident channel, that incident)' },
  { usage: 'list', does: 'open incidents, newest first' },
  { usage: 'approve <id> <gate>', does: 'approve a gate (two-person rule: never the declarer); the gate’s Approve button does the same' },
  { usage: 'abort <id> <reason>', does: 'stop the incident and undo its reversible steps, newest first' },
  { usage: 'resolve <id>', does: 'give the all-clear: lifts containment, then phase IV runs' },
  { usage: 'note <id> <text>', does: 'add a note to the incident timeline' },
  { usage: 'retry <id>', does: 'retry the failed steps of a blocked incident' },
  { usage: 'lockdown on|off [target] [reason]', does: 'the emergency kill-switch: the app answers 503 while on' },
  { usage: 'help', does: 'this list' },
];

/** Correlation ids are ours (the log's), but shown in a code span: keep them to a plain token. */
const CORRELATION = /^[A-Za-z0-9._:-]{1,100}$/;

/** An error shown to the person only, with the correlation id to find it in the log. */
export function errorReply(message: string, correlationId: string): EphemeralReply {
  const id = CORRELATION.test(correlationId) ? correlationId : 'invalid-correlation-id';
  const tail = `\n_Correlation id: \`${id}\` (the same id is in Firebreak's log)_`;
  const body = `:warning: ${md(message, SLACK_LIMITS.text - tail.length - 12)}`;
  return {
    response_type: 'ephemeral',
    replace_original: false,
    text: md(`${message} (correlation id ${id})`, SLACK_LIMITS.fallbackText),
    blocks: [{ type: 'section', text: mrkdwn(body + tail) }],
  };
}

/** The help text of the slash command (its configured name, e.g. `/incident`). */
export function helpReply(command: string = '/incident'): EphemeralReply {
  const cmd = md(command, 50);
  const lines = SUBCOMMANDS.map((s) => `• \`${cmd} ${md(s.usage, 100)}\` — ${md(s.does, 300)}`);
  return {
    response_type: 'ephemeral',
    replace_original: false,
    text: `${cmd}: ${SUBCOMMANDS.map((s) => s.usage.split(' ')[0]).join(', ')}`,
    blocks: [
      { type: 'section', text: mrkdwn(`*Firebreak* — incident-response runbooks. Decisions follow the same rules as the CLI (\`firebreak --help\`).`) },
      { type: 'section', text: mrkdwn(lines.join('\n')) },
    ],
  };
}
