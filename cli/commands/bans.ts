/**
 * `firebreak bans list|show|lift`: the worker's view of a target's bans, and
 * lifting one early as an audited `ban-lift` incident (one approval by another
 * responder). Nothing here touches Redis or nginx itself.
 */
import type { Command } from 'commander';
import { OperationError, UsageError } from '../../lib/errors.js';
import { formatNetwork, tryParseNetwork } from '../../lib/ip.js';
import type { BansResult, BanView } from '../../activities/inspect-bans.js';
import type { Ctx, Runner } from '../context.js';

const dedupKey = (target: string, network: string) => `ban-lift:${target}:${network}`;
const MAX_REASON = 500;

/** The canonical network of an address or CIDR, or a usage error (exit 2) before anything starts. */
export function canonicalOrUsage(text: string): string {
  const r = tryParseNetwork(text.trim());
  if ('error' in r) throw new UsageError(`not an address or CIDR: ${r.error}`);
  return formatNetwork(r.network);
}

function timeoutMs(value: string | undefined): number {
  const s = Number(value ?? 30);
  if (!Number.isInteger(s) || s < 1 || s > 600) throw new UsageError('--timeout: whole seconds from 1 to 600');
  return s * 1000;
}

function banLine(b: BanView): string {
  const until = b.until ?? b.keyUntil ?? '?';
  const key = b.keyUntil === null ? ' (app key gone)' : b.ttlSeconds !== null && b.ttlSeconds > 0 ? ` (${b.ttlSeconds} s left)` : '';
  const by = b.bannedBy.length ? ` by ${b.bannedBy.map((x) => `${x.incident}/${x.step}${x.reason ? ` "${x.reason}"` : ''}`).join(', ')}` : ' (by: not recorded)';
  const rel = b.relation && b.relation !== 'exact' ? ` [${b.relation === 'covers' ? 'covers it' : 'inside it'}]` : '';
  return `  ${b.network.padEnd(24)} until ${until}${key}${by}${rel}`;
}

async function look(ctx: Ctx, target: string, network: string | undefined, ms: number): Promise<BansResult> {
  const { runInspect } = await import('../../lib/inspect-client.js');
  const res = await runInspect(await ctx.client(), ctx.config, { kind: 'bans', target, requestedBy: ctx.actor(), ...(network ? { network } : {}) }, ms);
  if (res.kind !== 'bans') throw new OperationError('unexpected answer from the worker');
  return res.bans;
}

export function registerBans(program: Command, run: Runner): void {
  const cmd = program.command('bans').description("IP bans of a target, as the worker sees them; lift one early (audited, needs a second responder)");

  cmd
    .command('list')
    .description('every active ban: network, until when, which incident banned it')
    .option('-t, --target <name>', 'target environment')
    .option('--timeout <sec>', 'how long to wait for the worker', '30')
    .action(
      run(async (ctx, o: { target?: string; timeout?: string }) => {
        const ms = timeoutMs(o.timeout);
        const target = o.target ?? ctx.config.defaultTarget;
        const { getTarget } = await import('../../lib/config.js');
        getTarget(ctx.config, target);
        const r = await look(ctx, target, undefined, ms);
        ctx.out({ ok: true, ...r }, () =>
          [
            `${r.total} active ${r.total === 1 ? 'ban' : 'bans'} on ${r.target} (registry ${r.registry}, as of ${r.at})`,
            ...r.bans.map(banLine),
            ...(r.truncated ? [`  … and ${r.total - r.bans.length} more`] : []),
          ].join('\n'),
        );
      }),
    );

  cmd
    .command('show <ip>')
    .description('bans that match an address or CIDR: its own, broader ones covering it, narrower ones inside it')
    .option('-t, --target <name>', 'target environment')
    .option('--timeout <sec>', 'how long to wait for the worker', '30')
    .action(
      run(async (ctx, ip: string, o: { target?: string; timeout?: string }) => {
        const network = canonicalOrUsage(ip);
        const ms = timeoutMs(o.timeout);
        const target = o.target ?? ctx.config.defaultTarget;
        const { getTarget } = await import('../../lib/config.js');
        getTarget(ctx.config, target);
        const r = await look(ctx, target, network, ms);
        const banned = r.bans.some((b) => b.relation === 'exact' || b.relation === 'covers');
        ctx.out({ ok: true, banned, ...r }, () =>
          r.bans.length ? [`${network} on ${r.target}: ${banned ? 'BANNED' : 'not banned itself'}`, ...r.bans.map(banLine)].join('\n') : `${network} on ${r.target}: not banned`,
        );
      }),
    );

  cmd
    .command('lift <ip>')
    .description('lift a ban early: declares a ban-lift incident; one responder other than you approves, then it is lifted')
    .requiredOption('-r, --reason <text>', 'why the ban is lifted early (shown to the approver)')
    .option('-t, --target <name>', 'target environment')
    .option('-m, --mode <mode>', 'live | dry-run | drill', 'live')
    .option('--timeout <sec>', 'how long to wait for the worker', '60')
    .action(
      run(async (ctx, ip: string, o: { reason: string; target?: string; mode: string; timeout?: string }) => {
        const network = canonicalOrUsage(ip);
        const reason = o.reason.trim();
        if (!reason) throw new UsageError('--reason must not be empty');
        if (reason.length > MAX_REASON) throw new UsageError(`--reason: at most ${MAX_REASON} characters`);
        const ms = timeoutMs(o.timeout);
        const target = o.target ?? ctx.config.defaultTarget;
        const { prepareDeclaration, startDeclared, waitFor, TERMINAL, NEEDS_HUMAN } = await import('../../lib/incident-client.js');
        const prepared = prepareDeclaration(ctx.config, {
          runbook: 'ban-lift',
          params: { addresses: [network], reason },
          mode: o.mode,
          target,
          dedupKey: dedupKey(target, network),
          summary: `lift the ban on ${network}: ${reason}`,
          actor: ctx.actor(),
        });
        // Only an existing ban can be lifted; a broader one covering the address must be lifted as itself.
        const seen = await look(ctx, target, network, ms);
        const exact = seen.bans.find((b) => b.relation === 'exact');
        if (!exact) {
          const covering = seen.bans.filter((b) => b.relation === 'covers').map((b) => b.network);
          const inside = seen.bans.filter((b) => b.relation === 'inside').map((b) => b.network);
          const hint = covering.length
            ? `; it is covered by ${covering.join(', ')}: lift that instead`
            : inside.length
              ? `; bans inside it: ${inside.slice(0, 5).join(', ')}${inside.length > 5 ? ', …' : ''}`
              : '';
          throw new OperationError(`${network} is not banned on target ${target} (the worker's view)${hint}`);
        }
        const client = await ctx.client();
        const res = await startDeclared(client, prepared);
        ctx.progress(res.existing ? `ban-lift incident ${res.id} for ${network} is already open` : `declared ${res.id}`);
        const { progressPrinter } = await import('./progress.js');
        const s = await waitFor(client, res.id, (x) => TERMINAL.includes(x.state) || NEEDS_HUMAN.includes(x.state), { timeoutMs: ms, onChange: progressPrinter(ctx) });
        const step = s.steps.find((x) => x.action === 'network.unban_ips');
        const gate = s.gates.find((g) => g.id === step?.id);
        const json = { ok: true, id: res.id, existing: res.existing, network, target, state: s.state, step: step ?? null, gate: gate ?? null, bannedBy: exact.bannedBy, until: exact.until };
        if (s.state === 'awaiting-approval' && gate?.state === 'open') {
          const approvals = `${gate.approvals.length}/${gate.required}`;
          ctx.out(json, `${res.id}: waiting for ${approvals} approval by a member of "${gate.group}" other than ${s.declaredBy.user} to lift ${network} (banned until ${exact.until ?? exact.keyUntil ?? '?'})\nnext: they run  firebreak approve ${res.id} ${gate.id} --hash ${gate.argsHash.slice(0, 12)}\n      then check  firebreak bans show ${network}${o.target ? ` --target ${o.target}` : ''}`);
          return;
        }
        if (s.mode !== 'dry-run' && step?.state !== 'succeeded') {
          throw new OperationError(`ban on ${network} not lifted: incident ${res.id} is ${s.state}${step?.error ? ` (${step.error})` : ''}; see firebreak status ${res.id}`);
        }
        ctx.out(json, `${res.id}: ${step?.summary ?? s.state}`);
      }),
    );
}
