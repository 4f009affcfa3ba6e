/**
 * The declare modal (`views.open` / `views.update` payload) and the parsing of its
 * submission. The form is generated from the chosen runbook's typed params; the submission is
 * judged field by field with the CLI's own rules (lib/runbook/params.ts coerceParams), so a
 * bad value is reported on its field in the shape `response_action: 'errors'` wants. The
 * incident service still validates everything again when it declares. Pure.
 */
import type { types } from '@slack/bolt';
import { sha256Hex } from '../../lib/canonical.js';
import type { DeclareRequest } from '../../lib/incidents/types.js';
import { TEXT_LIMITS, textProblem } from '../../lib/limits.js';
import { ParamError } from '../../lib/runbook/errors.js';
import { coerceParams, type RawParamValue } from '../../lib/runbook/params.js';
import { SEVERITIES, type ParamSpec, type ParamValue, type RunbookDoc } from '../../lib/runbook/types.js';
import { MODES } from '../../workflows/definitions.js';
import { md, mrkdwn, plain, plainText, SLACK_LIMITS } from './text.js';

/** `callback_id` of the declare modal (view_submission listeners match it). */
export const DECLARE_CALLBACK_ID = 'firebreak.declare';
/** `action_id` of the runbook select: choosing one dispatches a block action, answered with `views.update`. */
export const DECLARE_RUNBOOK_ACTION = 'firebreak.declare.runbook';
/** `action_id` of every other input element of the modal. */
export const DECLARE_VALUE_ACTION = 'value';

/** `block_id`s of the fixed fields (errors are keyed by them). */
export const DECLARE_BLOCKS = {
  runbook: 'runbook',
  target: 'target',
  severity: 'severity',
  mode: 'mode',
  summary: 'summary',
} as const;

/** Room for the fixed blocks and notes: the rest of Slack's 100 modal blocks hold params. */
export const MAX_PARAM_BLOCKS = SLACK_LIMITS.modalBlocks - 10;

/**
 * `block_id` of a param's field. The runbook's name is part of it: Slack keeps what was typed
 * into a block across `views.update` when block and action ids stay the same, and a `reason`
 * typed for one runbook must not carry over (with that runbook's default) to another.
 */
export function paramBlockId(runbook: string, param: string): string {
  const id = `param:${runbook}:${param}`;
  return id.length <= SLACK_LIMITS.blockId ? id : `param:${sha256Hex(`${runbook}\0${param}`).slice(0, 32)}`;
}

/** What `private_metadata` carries across `views.update` and into the submission. Never identity: that is Slack's signed `user`. */
export interface DeclareMetadata {
  /** The runbook whose params the form shows. */
  runbook?: string;
  /** The channel `/incident declare` was typed in (where the outcome is posted). */
  channel?: string;
}

const RUNBOOK_NAME = /^[a-z0-9-]{1,100}$/;
const CHANNEL_ID = /^[A-Z0-9]{1,40}$/;

export class DeclareMetadataError extends Error {
  override name = 'DeclareMetadataError';
}

/** `private_metadata` for the modal: compact JSON, bounded. */
export function encodeDeclareMetadata(m: DeclareMetadata): string {
  if (m.runbook !== undefined && !RUNBOOK_NAME.test(m.runbook)) throw new DeclareMetadataError(`runbook ${JSON.stringify(m.runbook.slice(0, 100))} is not a runbook name`);
  if (m.channel !== undefined && !CHANNEL_ID.test(m.channel)) throw new DeclareMetadataError('channel is not a Slack channel id');
  return JSON.stringify({ ...(m.runbook !== undefined && { runbook: m.runbook }), ...(m.channel !== undefined && { channel: m.channel }) });
}

/** `private_metadata` back; refuses anything {@link encodeDeclareMetadata} would not have written. */
export function parseDeclareMetadata(text: unknown): DeclareMetadata {
  if (text === undefined || text === '') return {};
  if (typeof text !== 'string' || text.length > SLACK_LIMITS.privateMetadata) throw new DeclareMetadataError('modal metadata is missing or oversized');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new DeclareMetadataError('modal metadata is not JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new DeclareMetadataError('modal metadata is not an object');
  const r = parsed as Record<string, unknown>;
  const extra = Object.keys(r).filter((k) => k !== 'runbook' && k !== 'channel');
  if (extra.length) throw new DeclareMetadataError(`modal metadata has unexpected ${extra.length === 1 ? 'field' : 'fields'}`);
  if (r.runbook !== undefined && (typeof r.runbook !== 'string' || !RUNBOOK_NAME.test(r.runbook))) throw new DeclareMetadataError('modal metadata names no runbook');
  if (r.channel !== undefined && (typeof r.channel !== 'string' || !CHANNEL_ID.test(r.channel))) throw new DeclareMetadataError('modal metadata names no channel');
  return { ...(r.runbook !== undefined && { runbook: r.runbook }), ...(r.channel !== undefined && { channel: r.channel }) };
}

/** The fixed fields as the person left them (kept across `views.update`). */
export interface DeclareInitial {
  target?: string;
  severity?: string;
  mode?: string;
  summary?: string;
}

export interface DeclareModalInput {
  /** The runbooks one may declare (the worker's, by name). */
  runbooks: ReadonlyArray<{ name: string; title: string }>;
  /** The chosen runbook: its params become the form. */
  runbook?: RunbookDoc;
  targets: readonly string[];
  defaultTarget?: string;
  initial?: DeclareInitial;
  channel?: string;
}

const option = (value: string, text: string, description?: string): types.PlainTextOption => ({
  text: plain(text, SLACK_LIMITS.optionText),
  value,
  ...(description ? { description: plain(description, SLACK_LIMITS.optionText) } : {}),
});

/** A static select, or a text input when the choices do not fit one (too many, or values too long). */
function choice(values: readonly string[], initial: string | undefined, placeholder: string): types.StaticSelect | types.PlainTextInput {
  if (!values.length || values.length > SLACK_LIMITS.selectOptions || values.some((v) => v.length > SLACK_LIMITS.optionValue || v === '')) {
    return { type: 'plain_text_input', action_id: DECLARE_VALUE_ACTION, max_length: SLACK_LIMITS.plainTextInput, ...(initial ? { initial_value: initial } : {}) };
  }
  const options = values.map((v) => option(v, v));
  const init = options.find((o) => o.value === initial);
  return { type: 'static_select', action_id: DECLARE_VALUE_ACTION, placeholder: plain(placeholder, SLACK_LIMITS.placeholder), options, ...(init ? { initial_option: init } : {}) };
}

function input(block_id: string, label: string, element: types.InputBlockElement, opts: { optional?: boolean; hint?: string; dispatch?: boolean } = {}): types.InputBlock {
  return {
    type: 'input',
    block_id,
    label: plain(label, SLACK_LIMITS.inputLabel),
    element,
    optional: opts.optional ?? false,
    ...(opts.hint ? { hint: plain(opts.hint, SLACK_LIMITS.inputHint) } : {}),
    ...(opts.dispatch ? { dispatch_action: true } : {}),
  };
}

const TYPE_LABEL: Record<ParamSpec['type'], string> = { string: 'text', 'string[]': 'list', integer: 'integer', number: 'number', boolean: 'yes/no' };

function shownDefault(spec: ParamSpec): string | undefined {
  if (spec.default === undefined || spec.sensitive) return undefined;
  const d = spec.default;
  return Array.isArray(d) ? (d.length ? d.join(', ') : 'none') : String(d);
}

/** The field for one param, by its type (sensitive values are never prefilled). */
function paramField(runbook: string, name: string, spec: ParamSpec): types.InputBlock {
  const hintParts = [spec.description ?? ''];
  const dflt = shownDefault(spec);
  const id = paramBlockId(runbook, name);
  const label = `${name} (${TYPE_LABEL[spec.type]}${spec.required ? ', required' : ''})`;
  const optional = !spec.required;
  const initialText = spec.sensitive || spec.default === undefined ? undefined : Array.isArray(spec.default) ? spec.default.join('\n') : String(spec.default);
  let element: types.InputBlockElement;
  if (spec.type === 'boolean') {
    const yes = option('true', 'Yes');
    element = { type: 'checkboxes', action_id: DECLARE_VALUE_ACTION, options: [yes], ...(spec.default === true ? { initial_options: [yes] } : {}) };
    // Unchecked is an answer (false), so a checkbox is never "missing".
    return input(id, label, element, { optional: true, hint: hintParts.filter(Boolean).join(' ') });
  }
  if (spec.sensitive) {
    hintParts.push('Sensitive: stored encrypted; Firebreak shows only its fingerprint.');
    if (spec.enum) hintParts.push(`One of: ${spec.enum.join(', ')}.`);
    if (spec.type === 'string[]') hintParts.push('One per line.');
    element = { type: 'plain_text_input', action_id: DECLARE_VALUE_ACTION, multiline: spec.type === 'string[]', max_length: SLACK_LIMITS.plainTextInput };
  } else if (spec.enum && spec.enum.length <= SLACK_LIMITS.selectOptions && spec.enum.every((v) => v !== '' && v.length <= SLACK_LIMITS.optionValue)) {
    const options = spec.enum.map((v) => option(v, v));
    const chosen = (Array.isArray(spec.default) ? spec.default : spec.default === undefined ? [] : [String(spec.default)]).flatMap((v) => options.filter((o) => o.value === v));
    element =
      spec.type === 'string[]'
        ? { type: 'multi_static_select', action_id: DECLARE_VALUE_ACTION, options, placeholder: plain('choose any', SLACK_LIMITS.placeholder), ...(chosen.length ? { initial_options: chosen } : {}) }
        : { type: 'static_select', action_id: DECLARE_VALUE_ACTION, options, placeholder: plain('choose one', SLACK_LIMITS.placeholder), ...(chosen[0] ? { initial_option: chosen[0] } : {}) };
  } else if (spec.type === 'integer' || spec.type === 'number') {
    element = { type: 'number_input', action_id: DECLARE_VALUE_ACTION, is_decimal_allowed: spec.type === 'number', ...(initialText !== undefined ? { initial_value: initialText } : {}) };
  } else {
    if (spec.enum) hintParts.push(`One of: ${spec.enum.join(', ')}.`);
    if (spec.type === 'string[]') hintParts.push('One per line (commas also separate).');
    const initial = initialText !== undefined && initialText.length <= SLACK_LIMITS.plainTextInput && initialText !== '' ? initialText : undefined;
    element = { type: 'plain_text_input', action_id: DECLARE_VALUE_ACTION, multiline: spec.type === 'string[]', max_length: SLACK_LIMITS.plainTextInput, ...(initial ? { initial_value: initial } : {}) };
  }
  if (dflt !== undefined && !spec.sensitive) hintParts.push(`Default: ${dflt}.`);
  return input(id, label, element, { optional, hint: hintParts.filter(Boolean).join(' ') });
}

/** The declare modal for `views.open` (and `views.update` when a runbook is chosen). */
export function declareModal(m: DeclareModalInput): types.ModalView {
  const rb = m.runbook;
  const initial = m.initial ?? {};
  const blocks: types.AnyBlock[] = [];
  // The chosen runbook is always an option, so the submission can name it.
  const all = rb && !m.runbooks.some((r) => r.name === rb.name) ? [{ name: rb.name, title: rb.title }, ...m.runbooks] : m.runbooks;
  const listed = all.filter((r) => RUNBOOK_NAME.test(r.name)).slice(0, SLACK_LIMITS.selectOptions);
  const runbookOptions = listed.map((r) => option(r.name, r.name, r.title));
  const chosen = rb ? runbookOptions.find((o) => o.value === rb.name) : undefined;
  blocks.push(
    input(
      DECLARE_BLOCKS.runbook,
      'Runbook',
      {
        type: 'static_select',
        action_id: DECLARE_RUNBOOK_ACTION,
        placeholder: plain('choose the incident vector', SLACK_LIMITS.placeholder),
        options: runbookOptions.length ? runbookOptions : [option('-', 'no runbooks available')],
        ...(chosen ? { initial_option: chosen } : {}),
      },
      { dispatch: true },
    ),
  );
  blocks.push(input(DECLARE_BLOCKS.target, 'Target', choice(m.targets, initial.target ?? m.defaultTarget ?? (m.targets.length === 1 ? m.targets[0] : undefined), 'where to act')));
  blocks.push(input(DECLARE_BLOCKS.severity, 'Severity', choice(SEVERITIES, initial.severity ?? rb?.severity, 'the runbook’s default')));
  blocks.push(input(DECLARE_BLOCKS.mode, 'Mode', choice(MODES, initial.mode ?? 'live', 'live'), { hint: 'dry-run plans without acting; drill runs on a drill target.' }));
  blocks.push(
    input(
      DECLARE_BLOCKS.summary,
      'Summary',
      { type: 'plain_text_input', action_id: DECLARE_VALUE_ACTION, multiline: true, max_length: TEXT_LIMITS.summary, ...(initial.summary ? { initial_value: initial.summary.slice(0, TEXT_LIMITS.summary) } : {}) },
      { optional: true },
    ),
  );
  if (!rb) {
    blocks.push({ type: 'context', elements: [mrkdwn('Choose a runbook to see its parameters.')] });
  } else {
    const params = Object.entries(rb.params);
    blocks.push({ type: 'divider' }, { type: 'section', text: mrkdwn(`*${md(rb.title, 200)}*${rb.description ? `\n${md(rb.description, 2000)}` : ''}`) });
    if (!params.length) blocks.push({ type: 'context', elements: [mrkdwn('This runbook takes no parameters.')] });
    for (const [name, spec] of params.slice(0, MAX_PARAM_BLOCKS)) blocks.push(paramField(rb.name, name, spec));
    const hidden = params.slice(MAX_PARAM_BLOCKS);
    if (hidden.length) blocks.push({ type: 'context', elements: [mrkdwn(md(`${hidden.length} more parameters keep their defaults here (declare with the CLI to set them): ${hidden.map(([n]) => n).join(', ')}`, 2000))] });
  }
  return {
    type: 'modal',
    callback_id: DECLARE_CALLBACK_ID,
    title: plain('Declare an incident', SLACK_LIMITS.modalTitle),
    submit: plain('Declare', SLACK_LIMITS.modalButton),
    close: plain('Cancel', SLACK_LIMITS.modalButton),
    private_metadata: encodeDeclareMetadata({ ...(rb ? { runbook: rb.name } : {}), ...(m.channel !== undefined ? { channel: m.channel } : {}) }),
    blocks,
  };
}

/** What one field holds: typed text, or chosen option values; undefined when absent or not a field of ours. */
type Field = { text?: string } | { options: string[] } | undefined;

function field(values: unknown, blockId: string): Field {
  if (!values || typeof values !== 'object') return undefined;
  const block = (values as Record<string, unknown>)[blockId];
  if (!block || typeof block !== 'object') return undefined;
  const blockRecord = block as Record<string, unknown>;
  const v = (blockRecord[DECLARE_VALUE_ACTION] ?? blockRecord[DECLARE_RUNBOOK_ACTION]) as Record<string, unknown> | undefined;
  if (!v || typeof v !== 'object') return undefined;
  const one = v.selected_option as { value?: unknown } | null | undefined;
  if (one && typeof one === 'object') return typeof one.value === 'string' ? { text: one.value } : undefined;
  if (Array.isArray(v.selected_options)) return { options: v.selected_options.flatMap((o: { value?: unknown } | null) => (o && typeof o.value === 'string' ? [o.value] : [])) };
  if (typeof v.value === 'string') return { text: v.value };
  return { text: undefined };
}

const textOf = (f: Field): string | undefined => (f && 'text' in f ? f.text : undefined);

/** The fixed fields of a view's state (`view.state.values`), to keep them when the runbook changes (`views.update`). */
export function declareInitialFrom(values: unknown): DeclareInitial {
  const out: DeclareInitial = {};
  for (const key of ['target', 'severity', 'mode', 'summary'] as const) {
    const v = textOf(field(values, DECLARE_BLOCKS[key]));
    if (v !== undefined && v.length <= SLACK_LIMITS.plainTextInput) out[key] = v;
  }
  return out;
}

/** The runbook the person chose in the select (on a block action or a submission). */
export function chosenRunbook(values: unknown): string | undefined {
  const v = textOf(field(values, DECLARE_BLOCKS.runbook));
  return v !== undefined && RUNBOOK_NAME.test(v) ? v : undefined;
}

/** A declaration as the incident service takes it, less the actor (the listener adds who Slack says clicked). */
export type DeclareSubmission = Omit<DeclareRequest, 'actor'>;

export type DeclareParse = { ok: true; request: DeclareSubmission } | { ok: false; errors: Record<string, string> };

/** Slack shows field errors under the field; keep them short. */
const ERROR_MAX = 500;

/** The raw value of a param field as the CLI would have received it, or undefined when left empty. */
function rawParam(spec: ParamSpec, f: Field): RawParamValue | undefined {
  if (spec.type === 'boolean') return f && 'options' in f ? f.options.includes('true') : undefined;
  if (f && 'options' in f) {
    if (spec.type === 'string[]') return f.options.length || spec.default !== undefined ? f.options : undefined;
    return f.options[0];
  }
  const text = textOf(f);
  if (text === undefined || text.trim() === '') {
    // An emptied list means "none" where the runbook has a default to replace; otherwise the param is left out.
    return spec.type === 'string[]' && spec.default !== undefined && f !== undefined ? '' : undefined;
  }
  // One per line, or comma-separated: the CLI's own list rule then splits and trims.
  return spec.type === 'string[]' ? text.split(/\r?\n/).join(',') : text;
}

/**
 * A declare modal's submission, judged with the CLI's rules: either the declaration, or an
 * error per field keyed by its `block_id` (answer with `{ response_action: 'errors', errors }`).
 * @param runbook the runbook named in the view's private_metadata (the one the form was built for).
 * @param opts.targets the targets one may choose; a submission naming another is refused on the field.
 */
export function parseDeclareSubmission(values: unknown, runbook: RunbookDoc | undefined, opts: { targets?: readonly string[] } = {}): DeclareParse {
  const errors: Record<string, string> = {};
  const fail = (block: string, message: string) => {
    errors[block] ??= plainText(message, ERROR_MAX);
  };
  const chosen = textOf(field(values, DECLARE_BLOCKS.runbook));
  if (!runbook) fail(DECLARE_BLOCKS.runbook, 'Choose a runbook.');
  else if (chosen !== runbook.name) fail(DECLARE_BLOCKS.runbook, `The form below is for runbook ${runbook.name}: choose the runbook again to reload it.`);

  const tooLong = (v: string | undefined) => v !== undefined && v.length > SLACK_LIMITS.plainTextInput;
  const target = textOf(field(values, DECLARE_BLOCKS.target))?.trim();
  if (!target) fail(DECLARE_BLOCKS.target, 'Choose a target.');
  else if (tooLong(target)) fail(DECLARE_BLOCKS.target, 'That is not a target name.');
  else if (opts.targets && !opts.targets.includes(target)) fail(DECLARE_BLOCKS.target, `Unknown target; one of: ${opts.targets.join(', ')}.`);
  const severity = textOf(field(values, DECLARE_BLOCKS.severity));
  if (severity !== undefined && !(SEVERITIES as readonly string[]).includes(severity)) fail(DECLARE_BLOCKS.severity, `One of: ${SEVERITIES.join(', ')}.`);
  const mode = textOf(field(values, DECLARE_BLOCKS.mode));
  if (mode !== undefined && !(MODES as readonly string[]).includes(mode)) fail(DECLARE_BLOCKS.mode, `One of: ${MODES.join(', ')}.`);
  const summary = textOf(field(values, DECLARE_BLOCKS.summary));
  const summaryProblem = textProblem('summary', summary, 'The summary');
  if (summaryProblem) fail(DECLARE_BLOCKS.summary, summaryProblem);

  const raw: Record<string, RawParamValue> = {};
  if (runbook) {
    const shown = new Set(Object.keys(runbook.params).slice(0, MAX_PARAM_BLOCKS));
    for (const [name, spec] of Object.entries(runbook.params)) {
      const id = paramBlockId(runbook.name, name);
      const f = field(values, id);
      if (f && 'options' in f ? f.options.some((o) => o.length > SLACK_LIMITS.plainTextInput) || f.options.length > SLACK_LIMITS.selectOptions : tooLong(textOf(f))) {
        fail(id, `At most ${SLACK_LIMITS.plainTextInput} characters.`);
        continue;
      }
      const v = rawParam(spec, f);
      if (v === undefined) {
        if (spec.required) fail(shown.has(name) ? id : DECLARE_BLOCKS.runbook, shown.has(name) ? 'Required.' : `Parameter ${name} is required and not in this form: declare with the CLI.`);
        continue;
      }
      try {
        // The CLI's rules, one param at a time, so the problem lands on its own field.
        coerceParams({ ...runbook, params: { [name]: spec } }, { [name]: v });
        raw[name] = v;
      } catch (err) {
        if (!(err instanceof ParamError)) throw err;
        fail(id, err.problems.join('; '));
      }
    }
  }
  if (Object.keys(errors).length || !runbook || !target) return { ok: false, errors };
  let params: Record<string, ParamValue>;
  try {
    params = coerceParams(runbook, raw);
  } catch (err) {
    if (!(err instanceof ParamError)) throw err;
    return { ok: false, errors: { [DECLARE_BLOCKS.runbook]: plainText(err.problems.join('; '), ERROR_MAX) } };
  }
  return {
    ok: true,
    request: {
      runbook: runbook.name,
      params,
      target,
      ...(severity !== undefined ? { severity } : {}),
      ...(mode !== undefined ? { mode } : {}),
      ...(summary !== undefined && summary.trim() !== '' ? { summary } : {}),
    },
  };
}
