/**
 * What the live status message and the channel topic should say for one status, and a hash
 * of it: a refresh whose render hashes the same as the last one sent is skipped. Pure.
 */
import { createHash } from 'node:crypto';
import type { IncidentStatus } from '../../workflows/definitions.js';
import { statusMessage, statusTopic, type SlackMessage } from '../blocks/status-message.js';

export interface LiveRender extends SlackMessage {
  /** SHA-256 (hex) of the message as sent (text and blocks). */
  hash: string;
  /** The channel topic (state, severity, phase). */
  topic: string;
}

export function renderLive(status: IncidentStatus, command: string): LiveRender {
  const m = statusMessage(status, { command });
  const hash = createHash('sha256').update(JSON.stringify([m.text, m.blocks])).digest('hex');
  return { ...m, hash, topic: statusTopic(status) };
}
