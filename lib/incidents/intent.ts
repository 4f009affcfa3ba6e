/**
 * One-line intents (lockdown on, lift a ban) are incidents of a fixed runbook with a dedup
 * key: asking twice joins the open incident. They share one shape: start or join, follow until
 * the incident ends or waits for a person, and report the step that does the intent's action.
 */
import type { Client } from '@temporalio/client';
import { startDeclared } from './declare.js';
import { needsHumanOrEnded, waitFor } from './queries.js';
import type { FollowOptions, IntentOutcome, PreparedDeclaration } from './types.js';

export async function followIntent(client: Client, prepared: PreparedDeclaration, action: string, opts: FollowOptions = {}): Promise<IntentOutcome> {
  const declared = await startDeclared(client, prepared);
  opts.onDeclared?.(declared);
  const status = await waitFor(client, declared.id, needsHumanOrEnded, { timeoutMs: opts.timeoutMs ?? 60_000, onChange: opts.onChange });
  return { declared, status, step: status.steps.find((x) => x.action === action) };
}

/** The intent took effect: its step succeeded (a dry run only plans, so it counts as done). */
export const intentDone = (o: IntentOutcome): boolean => o.status.mode === 'dry-run' || o.step?.state === 'succeeded';
