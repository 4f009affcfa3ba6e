/**
 * Drills act for real on their target, so a production target refuses them unless it
 * sets `allowDrills`. One rule for the front door (refused at declaration) and the
 * worker (refused again before acting). Pure.
 */

/** Why `mode` may not run on the target, or undefined. */
export function drillRefusal(target: { production?: boolean; allowDrills?: boolean }, targetName: string, mode: string): string | undefined {
  if (mode === 'drill' && target.production && !target.allowDrills) {
    return `target "${targetName}" is production and does not allow drills (set allowDrills: true to rehearse on it)`;
  }
  return undefined;
}
