/** Whether a target may be acted on in this mode: drills act for real, so production refuses them unless it allows drills. */
import type { TargetConfig } from '../../lib/config.js';
import { drillRefusal } from '../../lib/drills.js';
import type { Mode } from '../../workflows/definitions.js';
import { refused } from './failures.js';

export function assertModeAllowed(target: TargetConfig, targetName: string, mode: Mode): void {
  const refusal = drillRefusal(target, targetName, mode);
  if (refusal) throw refused(refusal);
}
