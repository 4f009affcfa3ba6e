/**
 * The incident as a Mermaid `gantt` chart: phases as sections, steps as tasks
 * from their recorded start and end. Pure and deterministic: the same status
 * gives the same text, whatever the clock or time zone.
 */
import { PHASES, PHASE_TITLES } from '../runbook/types.js';
import type { IncidentStatus, StepStatus } from '../../workflows/definitions.js';

/** Words the gantt lexer reads as statements when a line starts with them. */
const KEYWORDS =
  /^(?:gantt|dateformat|inclusiveenddates|topaxis|axisformat|tickinterval|includes|excludes|todaymarker|weekday|weekend|title|accdescription|accdescr|acctitle|section|click|call|href)\b/i;

/**
 * Text safe on one gantt line: no `:` (ends a task name), `#` and `;` (end a
 * statement), `%` (comments and directives), quotes, angle brackets, or line
 * breaks; never starting like a keyword or a date.
 */
export function ganttText(text: string, fallback = 'step'): string {
  let t = text
    .replace(/[\p{Cc}\u2028\u2029]+/gu, ' ')
    .replace(/[:#;%"`<>{}]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (!t) t = fallback;
  if (KEYWORDS.test(t) || /^\d{4}-\d\d-\d\d/.test(t)) t = `${fallback} ${t}`;
  return t.length > 80 ? `${t.slice(0, 79)}…` : t;
}

/** The chart's date format; every time below is written in it, in UTC. */
export const GANTT_DATE_FORMAT = 'YYYY-MM-DDTHH:mm:ss';

function seconds(iso: string): number | undefined {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

function stamp(sec: number): string {
  return new Date(sec * 1000).toISOString().slice(0, 19);
}

const TAGS: Partial<Record<StepStatus['state'], string>> = {
  succeeded: 'done',
  undone: 'done',
  planned: 'done',
  failed: 'crit',
  overridden: 'crit',
  running: 'active',
};

export interface GanttOptions {
  title?: string;
  /** ISO: where a step still running ends on the chart (default: one second after its start). */
  until?: string;
}

/**
 * The gantt text (without the ``` fence). Steps without a start time are left
 * out; a step shorter than a second is drawn one second long.
 */
export function ganttChart(status: IncidentStatus, opts: GanttOptions = {}): string {
  const lines = ['gantt', `  title ${ganttText(opts.title ?? `${status.id} ${status.runbook.title}`, 'incident')}`, `  dateFormat ${GANTT_DATE_FORMAT}`, '  axisFormat %H:%M', '  todayMarker off'];
  const until = opts.until === undefined ? undefined : seconds(opts.until);
  let n = 0;
  for (const phase of PHASES) {
    const tasks: string[] = [];
    for (const step of status.steps.filter((s) => s.phase === phase)) {
      const start = step.startedAt === undefined ? undefined : seconds(step.startedAt);
      if (start === undefined) continue;
      const endMs = step.endedAt === undefined ? undefined : Date.parse(step.endedAt);
      let end = endMs === undefined || Number.isNaN(endMs) ? (until ?? start) : Math.ceil(endMs / 1000);
      if (end <= start) end = start + 1;
      n += 1;
      const tag = TAGS[step.state];
      tasks.push(`  ${ganttText(step.id)} :${tag ? `${tag}, ` : ''}s${n}, ${stamp(start)}, ${stamp(end)}`);
    }
    if (tasks.length) lines.push(`  section ${ganttText(PHASE_TITLES[phase], 'phase')}`, ...tasks);
  }
  return lines.join('\n');
}

/** The chart as a fenced Markdown block, or undefined when no step has started. */
export function ganttBlock(status: IncidentStatus, opts: GanttOptions = {}): string | undefined {
  if (!status.steps.some((s) => s.startedAt !== undefined && seconds(s.startedAt) !== undefined)) return undefined;
  return ['```mermaid', ganttChart(status, opts), '```'].join('\n');
}
