/** One `/incident` subcommand: its words are checked before the ack, its work runs after it. */
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

/** Answered in the ack itself (no identity, no Temporal), or work to do once acked. */
export type Prepared = { now: Reply } | { later: (ctx: WorkContext) => Promise<Reply> };

export interface Subcommand {
  name: string;
  /** Arguments after the name, as help shows them. */
  usage: string;
  summary: string;
  /** Checks the words (throws UsageError, answered in the ack); never contacts anything. */
  prepare(words: string[], env: PrepareEnv): Prepared;
}
