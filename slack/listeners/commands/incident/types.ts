/** One `/incident` subcommand: its words are checked before the ack, its work runs after it. */
import type { webApi } from '@slack/bolt';
import type { Config } from '../../../../lib/config.js';
import type { FrontDoor, Principal } from '../../../../lib/incidents/types.js';
import type { Reply } from '../../../text.js';

export interface PrepareEnv {
  /** The slash command as configured (`/incident`), for usage lines. */
  command: string;
  config: Readonly<Config>;
  subcommands: readonly Subcommand[];
}

export interface WorkContext {
  door: FrontDoor;
  principal: Principal;
  command: string;
}

/** What a modal needs right after the ack: Slack's trigger_id lives 3 s, so it opens before identity or Temporal. */
export interface ModalContext {
  web: webApi.WebClient;
  triggerId: string;
  /** The channel the command was typed in (where the outcome is told), when it is a channel id. */
  channel?: string;
}

/** Answered in the ack itself (no identity, no Temporal), work to do once acked, or a modal opened at once after the ack. */
export type Prepared = { now: Reply } | { later: (ctx: WorkContext) => Promise<Reply> } | { modal: (ctx: ModalContext) => Promise<void> };

export interface Subcommand {
  name: string;
  /** Arguments after the name, as help shows them. */
  usage: string;
  summary: string;
  /** Checks the words (throws UsageError, answered in the ack); never contacts anything. */
  prepare(words: string[], env: PrepareEnv): Prepared;
}
