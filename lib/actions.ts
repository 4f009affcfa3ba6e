/**
 * The action registry's static side: every action a runbook may name, what
 * activity runs it, its argument shape and how it is undone. Pure data, so the
 * runbook validator (Node) and the workflow sandbox read the same table.
 */

export type ArgType = 'string' | 'integer' | 'number' | 'boolean' | 'string[]';

export interface ArgSpec {
  type: ArgType;
  required?: boolean;
  enum?: string[];
  description: string;
}

export interface ActionSpec {
  /** Name of the activity function in createActivities(). */
  activity: string;
  description: string;
  args: Record<string, ArgSpec>;
  /** Changes state on the target (dry-run only plans it). */
  mutates: boolean;
  /** The action returns an undo; `abort` runs it. */
  reversible: boolean;
  /** The undo also runs on `resolve` (all-clear lifts containment). */
  liftOnResolve: boolean;
  /** Default start-to-close timeout. */
  timeoutMs: number;
  /** The activity also receives the incident status (report actions). */
  wantsStatus?: boolean;
}

export const ACTIONS = {
  'lockdown.status': {
    activity: 'lockdownStatus',
    description: 'Read the emergency lockdown flag (evidence).',
    args: {},
    mutates: false,
    reversible: false,
    liftOnResolve: false,
    timeoutMs: 15_000,
  },
  'lockdown.enable': {
    activity: 'lockdownEnable',
    description: 'Set the emergency kill-switch (:1:EMERGENCY_LOCKDOWN = 1): the app answers 503.',
    args: {
      reason: { type: 'string', description: 'Why, recorded beside the flag (never shown to users).' },
    },
    mutates: true,
    reversible: true,
    liftOnResolve: true,
    timeoutMs: 15_000,
  },
  'lockdown.disable': {
    activity: 'lockdownDisable',
    description: 'Clear the emergency kill-switch, or restore the value recorded before enable.',
    args: {
      restore: { type: 'string', description: 'Prior raw value to restore (internal: set by undo).' },
    },
    mutates: true,
    reversible: false,
    liftOnResolve: false,
    timeoutMs: 15_000,
  },
  'report.timeline': {
    activity: 'reportTimeline',
    description: 'Write the incident timeline (JSON + Markdown) into the evidence folder.',
    args: {},
    mutates: false,
    reversible: false,
    liftOnResolve: false,
    timeoutMs: 30_000,
    wantsStatus: true,
  },
} as const satisfies Record<string, ActionSpec>;

export type ActionName = keyof typeof ACTIONS;

export function isActionName(name: string): name is ActionName {
  return Object.prototype.hasOwnProperty.call(ACTIONS, name);
}

export function actionSpec(name: string): ActionSpec | undefined {
  return isActionName(name) ? ACTIONS[name] : undefined;
}
