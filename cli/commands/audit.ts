/**
 * `firebreak audit verify|export|log`: proving afterwards what an incident did. Reads
 * Firebreak's database (SELECT only) and Temporal's history while it is kept; exits 0
 * intact, 1 with the first bad record named, 2 on usage errors.
 */
import { writeFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import type pg from 'pg';
import type { Problem } from '../../lib/audit/verify.js';
import { UsageError } from '../../lib/errors.js';
import type { Ctx, Runner } from '../context.js';

const audit = () => import('../../lib/incidents/audit.js');

async function withDb<T>(ctx: Ctx, fn: (db: pg.Client) => Promise<T>): Promise<T> {
  const { connectAuditDb } = await audit();
  const db = await connectAuditDb(ctx.config);
  try {
    return await fn(db);
  } finally {
    await db.end().catch(() => undefined);
  }
}

/** Temporal when it answers; verification goes on from the archive when it does not. */
async function maybeClient(ctx: Ctx): Promise<Client | undefined> {
  try {
    return await ctx.client();
  } catch (err) {
    ctx.progress(`Temporal not reachable (${(err as Error).message}); checking against archived histories only`);
    return undefined;
  }
}

export function registerAudit(program: Command, run: Runner): void {
  const cmd = program.command('audit').description("the audit log: verify it is untampered, export an incident's complete record, query who did what");

  cmd
    .command('verify [incident-id]')
    .description('recompute the chains, check signed checkpoints and decisions, cross-check with Temporal history (exit 0 intact, 1 tampered)')
    .option('--all', 'every incident, and the global chain of heads')
    .option('--replay', 'also replay every archived history against this checkout\'s workflow code (slower: bundles the workflows unless FIREBREAK_WORKFLOW_BUNDLE names a built bundle)')
    .action(
      run(async (ctx, id: string | undefined, o: { all?: boolean; replay?: boolean }) => {
        if (!id && !o.all) throw new UsageError('audit verify needs an incident id or --all');
        if (id && o.all) throw new UsageError('audit verify takes an incident id or --all, not both');
        const client = await maybeClient(ctx);
        const { verifyAuditLog } = await audit();
        const r = await withDb(ctx, async (db) => {
          const report = await verifyAuditLog(ctx.config, { ...(id && { incidentId: id }), ...(client && { client }), db });
          if (!o.replay) return report;
          const { readAudit } = await import('../../lib/audit/read.js');
          const { replayArchived } = await import('../../worker/replay.js');
          ctx.progress('replaying archived histories against this checkout\'s workflow code…');
          const replays = await replayArchived(ctx.config, (await readAudit(db, id)).archives, process.env.FIREBREAK_WORKFLOW_BUNDLE);
          const bad = replays.filter((x) => !x.ok);
          const problems: Problem[] = bad.map((x) => ({ incidentId: x.workflowId, what: 'history' as const, message: `archived history of ${x.workflowId} (run ${x.runId}) does not replay: ${x.error ?? ''}` }));
          return { ...report, replays, ok: report.ok && !bad.length, ...(!report.first && problems[0] && { first: problems[0] }) };
        });
        ctx.out(r, () => {
          const lines = r.incidents.map((i) => {
            const head = `${i.problems.length ? 'TAMPERED' : 'intact  '} ${i.incidentId}: ${i.records} records, ${i.checkpoints} checkpoints, ${i.decisions} decisions (history: ${i.history})`;
            return [head, ...i.problems.map((p) => `  #${p.seq ?? '-'} ${p.what}: ${p.message}`), ...i.warnings.map((w) => `  warning: ${w}`)].join('\n');
          });
          if (o.all) lines.push(r.global.length ? `global chain: ${r.global.length} problem(s)\n${r.global.map((p) => `  #${p.seq ?? '-'} ${p.message}`).join('\n')}` : 'global chain: intact');
          if ('replays' in r) lines.push(`replayed ${r.replays.length} archived histories: ${r.replays.filter((x) => !x.ok).length ? r.replays.filter((x) => !x.ok).map((x) => `${x.workflowId} FAILED (${x.error ?? ''})`).join('; ') : 'all replay'}`);
          if (r.first) lines.push(`first problem: incident ${r.first.incidentId}, record ${r.first.seq ?? '-'}: ${r.first.message}`);
          return lines.join('\n');
        });
        if (!r.ok) process.exitCode = 1;
      }),
    );

  cmd
    .command('export <incident-id>')
    .description("the incident's complete record: declaration, runbook snapshot, every step, decision (signer, signature), undo and note")
    .option('--format <fmt>', 'md, json or csv', 'md')
    .option('--out <file>', 'write to a file instead of stdout')
    .action(
      run(async (ctx, id: string, o: { format: string; out?: string }) => {
        if (!['md', 'json', 'csv'].includes(o.format)) throw new UsageError(`--format is md, json or csv, not ${o.format}`);
        const client = await maybeClient(ctx);
        const { verifyAuditLog } = await audit();
        const { readAudit } = await import('../../lib/audit/read.js');
        const { renderExport } = await import('../../lib/audit/export.js');
        const { report, rows } = await withDb(ctx, async (db) => ({ report: await verifyAuditLog(ctx.config, { incidentId: id, ...(client && { client }), db }), rows: await readAudit(db, id) }));
        const verdict = report.incidents.find((i) => i.incidentId === id);
        if (!verdict || !rows.records.length) throw Object.assign(new Error(`no audit records for incident ${id} (was the worker keeping the audit log? config \`audit:\`)`), { exitCode: 1 });
        const text = renderExport(o.format as 'md' | 'json' | 'csv', { incidentId: id, records: rows.records, verdict, archives: rows.archives.map((a) => ({ workflowId: a.workflowId, runId: a.runId, sha256: a.sha256 })), exportedAt: new Date().toISOString() });
        if (o.out) {
          writeFileSync(o.out, text, { mode: 0o600 });
          ctx.progress(`wrote ${o.out} (${rows.records.length} records; ${verdict.problems.length ? 'verification FAILED' : 'verified intact'})`);
        } else process.stdout.write(text);
        if (verdict.problems.length) process.exitCode = 1;
      }),
    );

  cmd
    .command('log')
    .description('who did what, when: records filtered; --json writes NDJSON (one record a line) for a SIEM')
    .option('--incident <id>', 'one incident')
    .option('--actor <name>', 'one responder or service')
    .option('--since <time>', 'ISO time, or a duration back from now (30m, 24h, 7d)')
    .option('--action <name>', 'a decision kind (approve, abort…), a record kind (declared, closed…) or a step action (tokens.revoke…)')
    .option('--refusals', 'refused decision attempts instead (forged, unsigned, revoked keys…), with what they claimed')
    .option('--limit <n>', 'at most this many records', '1000')
    .action(
      run(async (ctx, o: { incident?: string; actor?: string; since?: string; action?: string; limit: string; refusals?: boolean }) => {
        const limit = Number(o.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1_000_000) throw new UsageError(`--limit is a whole number from 1 to 1000000, not ${o.limit}`);
        const since = o.since === undefined ? undefined : sinceTime(o.since);
        const { queryLog, queryRefusals } = await import('../../lib/audit/read.js');
        if (o.refusals) {
          if (o.actor || o.action) throw new UsageError('--refusals takes --incident, --since and --limit (a refusal has no verified actor)');
          const refused = await withDb(ctx, (db) => queryRefusals(db, { ...(o.incident && { incidentId: o.incident }), ...(since && { since }), limit }));
          if (ctx.json) for (const r of refused) process.stdout.write(`${JSON.stringify(r)}\n`);
          else ctx.out(refused, () => (refused.length ? refused.map((r) => `${r.at}  ${r.incidentId ?? '-'}  ${r.kind ?? '?'} claimed by ${r.claimedActor ?? '?'}${r.claimedKey ? ` (key ${r.claimedKey})` : ''}: ${r.reason}`).join('\n') : 'no refusals recorded'));
          return;
        }
        const rows = await withDb(ctx, (db) => queryLog(db, { ...(o.incident && { incidentId: o.incident }), ...(o.actor && { actor: o.actor }), ...(since && { since }), ...(o.action && { action: o.action }), limit }));
        if (ctx.json) {
          for (const r of rows) process.stdout.write(`${JSON.stringify({ incidentId: r.incidentId, seq: r.seq, at: r.at, kind: r.kind, actor: r.actor, hash: r.hash, data: JSON.parse(r.payload) as unknown })}\n`);
          return;
        }
        ctx.out(rows, () => (rows.length ? rows.map(logLine).join('\n') : 'no records match'));
      }),
    );
}

function logLine(r: { incidentId: string; seq: number; at: string; kind: string; actor: string | null; payload: string }): string {
  const d = JSON.parse(r.payload) as { kind?: string; message?: string; runbook?: { name?: string } };
  const what = r.kind === 'decision' ? `decision ${d.kind ?? '?'}` : r.kind === 'timeline' ? (d.message ?? '') : r.kind === 'declared' ? `declared ${d.runbook?.name ?? ''}` : r.kind;
  return `${r.at}  ${r.incidentId}#${r.seq}  ${(r.actor ?? '-').padEnd(14)} ${what}`;
}

function sinceTime(text: string): string {
  const m = /^(\d+)(m|h|d)$/.exec(text);
  if (m) return new Date(Date.now() - Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd']).toISOString();
  const t = Date.parse(text);
  if (!Number.isFinite(t) || !/^\d{4}-\d{2}-\d{2}/.test(text)) throw new UsageError(`--since is an ISO time (2026-12-01T00:00Z) or a duration (30m, 24h, 7d), not ${text}`);
  return new Date(t).toISOString();
}
