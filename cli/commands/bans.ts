/**
 * `firebreak bans list|show|lift`: the worker's view of a target's bans, and
 * lifting one early as an audited `ban-lift` incident (one approval by another
 * responder). Nothing here touches Redis or nginx itself.
 */
import type { Command } from 'commander';
import type { BanView } from '../../lib/incidents/types.js';
import type { Runner } from '../context.js';
import { timeoutMs } from './timeout.js';

const bans = () => import('../../lib/incidents/bans.js');

function banLine(b: BanView): string {
  const until = b.until ?? b.keyUntil ?? '?';
  const key = b.keyUntil === null ? ' (app key gone)' : b.ttlSeconds !== null && b.ttlSeconds > 0 ? ` (${b.ttlSeconds} s left)` : '';
  // Holders: each incident step holding the ban, until its own end; an older worker's ban names the step that banned it first.
  const known = (b.holders ?? []).filter((h) => h.incidentId !== 'unknown');
  const by = known.length
    ? ` held by ${known.map((h) => `${h.incidentId}/${h.stepId}${h.until ? ` until ${h.until}` : ''}`).join(', ')}`
    : b.bannedBy.length
      ? ` by ${b.bannedBy.map((x) => `${x.incident}/${x.step}`).join(', ')} (older worker)`
      : ' (by: not recorded)';
  const rel = b.relation && b.relation !== 'exact' ? ` [${b.relation === 'covers' ? 'covers it' : 'inside it'}]` : '';
  return `  ${b.network.padEnd(24)} until ${until}${key}${by}${rel}`;
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
        const ms = timeoutMs(o.timeout, 30);
        const r = await (await bans()).listBans(ctx, { target: o.target, actor: await ctx.actor(), timeoutMs: ms });
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
        const { showBans, canonicalNetwork } = await bans();
        const network = canonicalNetwork(ip);
        const ms = timeoutMs(o.timeout, 30);
        const { banned, ...r } = await showBans(ctx, { network, target: o.target, actor: await ctx.actor(), timeoutMs: ms });
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
        const [{ canonicalNetwork, liftBan }, { progressPrinter }] = await Promise.all([bans(), import('./progress.js')]);
        const network = canonicalNetwork(ip);
        const ms = timeoutMs(o.timeout, 60);
        const lift = await liftBan(
          ctx,
          { network, reason: o.reason, target: o.target, mode: o.mode, actor: await ctx.actor(), timeoutMs: ms },
          { onDeclared: (d) => ctx.progress(d.existing ? `ban-lift incident ${d.id} for ${network} is already open` : `declared ${d.id}`), onChange: progressPrinter(ctx) },
        );
        const { declared: res, status: s, step, gate, ban, target } = lift;
        const json = { ok: true, id: res.id, existing: res.existing, network, target, state: s.state, step: step ?? null, gate: gate ?? null, bannedBy: ban.bannedBy, holders: ban.holders, until: ban.until };
        const heldBy = [...new Set((ban.holders ?? []).map((h) => h.incidentId))];
        if (lift.awaitingApproval && gate) {
          const approvals = `${gate.approvals.length}/${gate.required}`;
          ctx.out(json, `${res.id}: waiting for ${approvals} approval by a member of "${gate.group}" other than ${s.declaredBy.user} to lift ${network} (banned until ${ban.until ?? ban.keyUntil ?? '?'}${heldBy.length ? `, held by ${heldBy.join(', ')}: the lift ends every hold` : ''})\nnext: they run  firebreak approve ${res.id} ${gate.id} --hash ${gate.argsHash.slice(0, 12)}\n      then check  firebreak bans show ${network}${o.target ? ` --target ${o.target}` : ''}`);
          return;
        }
        ctx.out(json, `${res.id}: ${step?.summary ?? s.state}`);
      }),
    );
}
