/**
 * IP bans as the worker sees them, and lifting one early as an audited `ban-lift` incident
 * (one approval by another responder). Nothing here touches Redis or nginx itself.
 */
import { OperationError, UsageError } from '../errors.js';
import { formatNetwork, tryParseNetwork } from '../ip.js';
import type { GateStatus } from '../../workflows/definitions.js';
import { prepareDeclaration } from './declare.js';
import { inspectBans, type LookRequest } from './inspect.js';
import { followIntent, intentDone } from './intent.js';
import type { BansResult, BanView, FollowOptions, FrontDoor, IntentOutcome } from './types.js';

const RUNBOOK = 'ban-lift';
const ACTION = 'network.unban_ips';
export const MAX_LIFT_REASON = 500;

/** One lift incident per target and network: asking again joins the open one. */
export const banLiftDedupKey = (target: string, network: string): string => `ban-lift:${target}:${network}`;

/** The canonical network of an address or CIDR, or a usage error (exit 2) before anything starts. */
export function canonicalNetwork(text: string): string {
  const r = tryParseNetwork(text.trim());
  if ('error' in r) throw new UsageError(`not an address or CIDR: ${r.error}`);
  return formatNetwork(r.network);
}

export async function listBans(door: FrontDoor, req: LookRequest): Promise<BansResult> {
  return inspectBans(door, req);
}

/** Bans matching an address or CIDR: its own, broader ones covering it, narrower ones inside it. */
export async function showBans(door: FrontDoor, req: LookRequest & { network: string }): Promise<BansResult & { banned: boolean }> {
  const r = await inspectBans(door, { ...req, network: canonicalNetwork(req.network) });
  return { ...r, banned: r.bans.some((b) => b.relation === 'exact' || b.relation === 'covers') };
}

export interface LiftRequest extends LookRequest {
  network: string;
  reason: string;
  mode?: string;
}

export interface LiftOutcome extends IntentOutcome {
  network: string;
  target: string;
  /** The ban as the worker saw it before the lift was declared. */
  ban: BanView;
  /** The lift's gate, open while it waits for the second responder. */
  gate: GateStatus | undefined;
  awaitingApproval: boolean;
}

/**
 * Declare (or join) the lift of one existing ban and follow it until it waits for the approval
 * or ends. Only an exact ban can be lifted: a broader one covering the address is lifted as itself.
 */
export async function liftBan(door: FrontDoor, req: LiftRequest, opts: FollowOptions = {}): Promise<LiftOutcome> {
  const network = canonicalNetwork(req.network);
  const reason = req.reason.trim();
  if (!reason) throw new UsageError('--reason must not be empty');
  if (reason.length > MAX_LIFT_REASON) throw new UsageError(`--reason: at most ${MAX_LIFT_REASON} characters`);
  const target = req.target ?? door.config.defaultTarget;
  const prepared = prepareDeclaration(door.config, {
    runbook: RUNBOOK,
    params: { addresses: [network], reason },
    mode: req.mode,
    target,
    dedupKey: banLiftDedupKey(target, network),
    summary: `lift the ban on ${network}: ${reason}`,
    actor: req.actor,
  });
  const seen = await inspectBans(door, { target, network, actor: req.actor, timeoutMs: req.timeoutMs });
  const ban = seen.bans.find((b) => b.relation === 'exact');
  if (!ban) throw new OperationError(`${network} is not banned on target ${target} (the worker's view)${notBannedHint(seen)}`);
  const outcome = await followIntent(await door.client(), prepared, ACTION, { ...opts, timeoutMs: req.timeoutMs ?? opts.timeoutMs });
  const gate = outcome.status.gates.find((g) => g.id === outcome.step?.id);
  const awaitingApproval = outcome.status.state === 'awaiting-approval' && gate?.state === 'open';
  if (!awaitingApproval && !intentDone(outcome)) {
    const { status, step } = outcome;
    throw new OperationError(`ban on ${network} not lifted: incident ${outcome.declared.id} is ${status.state}${step?.error ? ` (${step.error})` : ''}; see firebreak status ${outcome.declared.id}`);
  }
  return { ...outcome, network, target, ban, gate, awaitingApproval };
}

function notBannedHint(seen: BansResult): string {
  const covering = seen.bans.filter((b) => b.relation === 'covers').map((b) => b.network);
  const inside = seen.bans.filter((b) => b.relation === 'inside').map((b) => b.network);
  if (covering.length) return `; it is covered by ${covering.join(', ')}: lift that instead`;
  if (inside.length) return `; bans inside it: ${inside.slice(0, 5).join(', ')}${inside.length > 5 ? ', …' : ''}`;
  return '';
}
