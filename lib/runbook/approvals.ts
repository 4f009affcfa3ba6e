/**
 * A runbook's gates against the approver groups that will judge them: a gate naming a group
 * nobody configured (or `toString`), or needing more approvals than its group has members, is
 * a gate no one can pass — refused at declaration, by the worker and by `runbook validate`
 * instead of discovered at 03:00. Judged only when the config names approver groups at all
 * (a config without any has no one to approve anything yet). Pure.
 */
import type { RunbookDoc } from './types.js';

export function approvalProblems(doc: RunbookDoc, groups: Readonly<Record<string, readonly string[]>>, source: string): string[] {
  const names = Object.keys(groups);
  if (!names.length) return [];
  const gates = [...Object.values(doc.phases).flat().flatMap((s) => (s.approval ? [{ where: `step ${s.id}`, ...s.approval }] : [])), { where: 'resolve', ...doc.resolve.approval }];
  const out: string[] = [];
  for (const g of gates) {
    if (!Object.hasOwn(groups, g.group)) {
      out.push(`${g.where}: approval group "${g.group}" is not one of approvers.groups in ${source} (${names.join(', ')})`);
      continue;
    }
    const members = groups[g.group] ?? [];
    if (g.count > members.length) out.push(`${g.where}: needs ${g.count} approval(s) but group "${g.group}" has ${members.length} member(s) in ${source}: no one could pass it`);
  }
  return out;
}
