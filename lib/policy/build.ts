/**
 * The worker's side of the trust boundary: its policy for an incident, built from its own
 * config and runbooks folder (never from what the client sent), and the verdict on the
 * signed declaration. Node side: the policy activity and the activities' re-checks use it.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { Config, TargetConfig } from '../config.js';
import { channelsFor } from '../config-slack.js';
import { verifyDecision, type SignedStatement, type Verdict } from '../identity/verify.js';
import { approvalProblems } from '../runbook/approvals.js';
import { loadRunbook } from '../runbook/loader.js';
import { applyFloors } from './floors.js';
import type { RunbookSnapshot } from '../runbook/types.js';
import { declarationExtra, declarationHash, type DeclarationFacts } from './decisions.js';
import type { IncidentPolicy, PolicyVerdict } from './types.js';

export interface PolicyRequest {
  facts: DeclarationFacts;
  /** The runbook the client loaded: used as is only on a development target. */
  clientRunbook: RunbookSnapshot;
  /** Who the client says declared (trusted only on a development target). */
  claimedDeclarer: string;
  declaration?: SignedStatement;
  /** Also check every step's known arguments on the worker (what validateIncidentArgs does), for this incident. */
  preflight?: { capabilities: string[]; declaredAt: string };
}

export function targetOf(config: Readonly<Config>, name: string): TargetConfig | undefined {
  return Object.hasOwn(config.targets, name) ? config.targets[name] : undefined;
}

/** Parsed runbooks by folder and name, kept while the file's size and mtime stay: every mutating activity asks. */
const parsed = new Map<string, { stamp: string; runbook: RunbookSnapshot }>();

function stampOf(dir: string, name: string): string | undefined {
  for (const ext of ['.yaml', '.yml']) {
    try {
      const st = statSync(join(dir, name + ext));
      return `${ext}:${st.size}:${st.mtimeMs}`;
    } catch {
      // try the next extension
    }
  }
  return undefined;
}

/** The worker's own copy of a runbook by name, or why there is none that matches `sha256`. */
export function trustedRunbook(config: Readonly<Config>, name: string, sha256: string): { ok: true; runbook: RunbookSnapshot } | { ok: false; problem: string } {
  let mine: RunbookSnapshot;
  try {
    if (!/^[a-z0-9-]+$/.test(name)) throw new Error('not a runbook name');
    const key = `${config.runbooksDir}\0${name}`;
    const stamp = stampOf(config.runbooksDir, name);
    const cached = parsed.get(key);
    if (stamp !== undefined && cached?.stamp === stamp) mine = cached.runbook;
    else {
      mine = loadRunbook(config.runbooksDir, name);
      if (stamp !== undefined) parsed.set(key, { stamp, runbook: mine });
    }
  } catch {
    return { ok: false, problem: `runbook "${name}" is not one of the worker's runbooks (${config.runbooksDir}): declare a runbook by name from the worker's folder` };
  }
  if (mine.sha256 !== sha256) {
    return { ok: false, problem: `runbook "${name}" (sha256 ${sha256.slice(0, 12)}…) is not the worker's copy (sha256 ${mine.sha256.slice(0, 12)}…): only the worker's runbooks run on this target` };
  }
  return { ok: true, runbook: mine };
}

/** Verify a declaration statement against the worker's registry at `now`. */
export function verifyDeclaration(config: Readonly<Config>, target: TargetConfig, facts: DeclarationFacts, signed: unknown, now: string, opts: { skewMs?: number } = {}): Verdict {
  const verdict = verifyDecision(signed, {
    registry: config.registry,
    expect: { kind: 'declare', incidentId: facts.incidentId, argsHash: declarationHash(facts) },
    now,
    skewMs: opts.skewMs ?? config.identity.skewSeconds * 1000,
    seenNonces: new Set(),
    mode: facts.mode,
    drillTarget: target.drillTarget && !target.production,
  });
  if (!verdict.ok) return verdict;
  const extra = declarationExtra(facts);
  const said = verdict.statement.extra ?? {};
  const differs = Object.keys(extra).filter((k) => said[k] !== extra[k]);
  if (differs.length) return { ok: false, reason: 'wrong-hash', message: `the declaration's ${differs.join(', ')} differ from the incident's`, claimed: { responder: verdict.responder, keyId: verdict.keyId } };
  return verdict;
}

/** The policy for one incident, or why the worker refuses to run it. */
export function buildPolicy(config: Readonly<Config>, req: PolicyRequest, now: string): PolicyVerdict {
  const { facts } = req;
  const target = targetOf(config, facts.target);
  if (!target) return { ok: false, problem: `target "${facts.target}" is not in the worker's config (${config.source})` };
  const authenticated = !target.development;
  const base = {
    target: facts.target,
    authenticated,
    production: target.production,
    drillTarget: target.drillTarget && !target.production,
    registry: config.registry,
    approvers: { ...config.approvers.groups },
    approversSource: config.source,
    gates: target.policy.gates.map((g) => ({ actions: [...g.actions], count: g.count, group: g.group })),
    personalVote: target.policy.personalVote,
    skewMs: config.identity.skewSeconds * 1000,
    ...(channelsFor(config.slack, facts.target) && { notify: { slack: true as const } }),
    ...(config.audit && { audit: { archive: config.audit.archive } }),
  };
  const runbookDoc = authenticated ? undefined : req.clientRunbook.doc;
  const gateProblems = (doc: RunbookSnapshot['doc']) => approvalProblems(applyFloors(doc, base.gates, false), config.approvers.groups, config.source);
  if (runbookDoc && gateProblems(runbookDoc).length) return { ok: false, problem: gateProblems(runbookDoc).join('; ') };
  if (!authenticated) {
    const policy: IncidentPolicy = { ...base, runbook: req.clientRunbook, declarer: { responder: req.claimedDeclarer, via: 'unauthenticated' } };
    return { ok: true, policy };
  }
  const runbook = trustedRunbook(config, facts.runbook, facts.runbookSha256);
  if (!runbook.ok) return { ok: false, problem: runbook.problem };
  const unpassable = gateProblems(runbook.runbook.doc);
  if (unpassable.length) return { ok: false, problem: unpassable.join('; ') };
  if (!req.declaration) return { ok: false, problem: `target "${facts.target}" requires a signed declaration: create a key with \`firebreak keys init\` and have its public line added to the worker's identity.responders` };
  const verdict = verifyDeclaration(config, target, facts, req.declaration, now);
  if (!verdict.ok) return { ok: false, problem: `declaration refused (${verdict.reason}): ${verdict.message}` };
  const policy: IncidentPolicy = {
    ...base,
    runbook: runbook.runbook,
    declarer: { responder: verdict.responder, via: verdict.via, keyId: verdict.keyId, ...(verdict.service !== undefined && { service: verdict.service }) },
    declaration: req.declaration,
  };
  return { ok: true, policy };
}
