/** A gate message redrawn in place (`chat.update`) from the incident's status, after a vote or a denial. */
import type { webApi } from '@slack/bolt';
import type { Client } from '@temporalio/client';
import { getStatus } from '../lib/incidents/queries.js';
import { gateDenials, gateMessage, type GateRef } from './blocks/gate-message.js';

/** Where a message is. */
export interface MessageRef {
  channel: string;
  ts: string;
}

/** The clicked message of a block_actions payload (none for an ephemeral one: those cannot be updated). */
export function clickedMessage(body: { container?: Record<string, unknown>; channel?: { id?: string }; message?: { ts?: string } }): MessageRef | undefined {
  const c = body.container ?? {};
  if (c.is_ephemeral === true) return undefined;
  const channel = typeof c.channel_id === 'string' ? c.channel_id : body.channel?.id;
  const ts = typeof c.message_ts === 'string' ? c.message_ts : body.message?.ts;
  return channel && ts ? { channel, ts } : undefined;
}

export async function refreshGateMessage(client: Client, web: webApi.WebClient, ref: GateRef, where: MessageRef, command: string): Promise<void> {
  const status = await getStatus(client, ref.incidentId);
  const gate = status.gates.find((g) => g.id === ref.gate && g.argsHash === ref.argsHash) ?? status.gates.findLast((g) => g.id === ref.gate);
  if (!gate) return;
  const m = gateMessage(status, gate, { command, denials: gateDenials(status, gate) });
  await web.chat.update({ channel: where.channel, ts: where.ts, text: m.text, blocks: m.blocks });
}
