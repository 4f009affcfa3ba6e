/**
 * What Slack accepts of a Block Kit payload, checked the way its API does (block kinds,
 * lengths, counts, unique ids), and a stand-in for the state Slack sends back with a modal's
 * submission. Shared by the slack-blocks tests.
 */
import type { types } from '@slack/bolt';
import { SLACK_LIMITS as L } from '../../slack/blocks/text.js';

type Obj = Record<string, unknown>;

const MESSAGE_BLOCKS = new Set(['header', 'section', 'context', 'divider', 'actions']);
const MODAL_BLOCKS = new Set([...MESSAGE_BLOCKS, 'input']);
const INPUT_ELEMENTS = new Set(['plain_text_input', 'static_select', 'multi_static_select', 'checkboxes', 'number_input']);

/** Every problem Slack would answer `invalid_blocks` for (empty when the payload is fine). */
export function shapeProblems(blocks: readonly unknown[], where: 'message' | 'modal'): string[] {
  const problems: string[] = [];
  const bad = (path: string, what: string) => problems.push(`${path}: ${what}`);
  const max = where === 'message' ? L.messageBlocks : L.modalBlocks;
  if (blocks.length === 0) bad('blocks', 'empty');
  if (blocks.length > max) bad('blocks', `${blocks.length} blocks, more than ${max}`);
  const blockIds = new Set<string>();
  const text = (path: string, t: unknown, limit: number, kind?: 'plain_text' | 'mrkdwn') => {
    const o = t as Obj | undefined;
    if (!o || (o.type !== 'plain_text' && o.type !== 'mrkdwn')) return bad(path, 'not a text object');
    if (kind && o.type !== kind) bad(path, `must be ${kind}`);
    if (typeof o.text !== 'string' || o.text.length < 1) return bad(path, 'empty text');
    if (o.text.length > limit) bad(path, `${o.text.length} characters, more than ${limit}`);
    if (o.type === 'mrkdwn' && o.verbatim !== true) bad(path, 'mrkdwn without verbatim: Slack would parse mentions and links in it');
  };
  const options = (path: string, opts: unknown, limit: number) => {
    if (!Array.isArray(opts) || opts.length < 1 || opts.length > limit) return bad(path, `needs 1–${limit} options`);
    const values = new Set<string>();
    opts.forEach((op: Obj, i) => {
      text(`${path}[${i}].text`, op.text, L.optionText, 'plain_text');
      if (op.description !== undefined) text(`${path}[${i}].description`, op.description, L.optionText, 'plain_text');
      if (typeof op.value !== 'string' || op.value.length < 1 || op.value.length > L.optionValue) bad(`${path}[${i}].value`, 'missing or too long');
      else if (values.has(op.value)) bad(`${path}[${i}].value`, 'duplicate');
      else values.add(op.value);
    });
  };
  const element = (path: string, e: Obj) => {
    if (typeof e.action_id !== 'string' || e.action_id.length > L.actionId) bad(`${path}.action_id`, 'missing or too long');
    if (e.placeholder !== undefined) text(`${path}.placeholder`, e.placeholder, L.placeholder, 'plain_text');
    switch (e.type) {
      case 'button':
        text(`${path}.text`, e.text, L.buttonText, 'plain_text');
        if (typeof e.value === 'string' && e.value.length > L.buttonValue) bad(`${path}.value`, 'too long');
        break;
      case 'plain_text_input':
        if (typeof e.max_length === 'number' && e.max_length > L.plainTextInput) bad(`${path}.max_length`, 'more than 3000');
        if (typeof e.initial_value === 'string' && typeof e.max_length === 'number' && e.initial_value.length > e.max_length) bad(`${path}.initial_value`, 'longer than max_length');
        break;
      case 'static_select':
      case 'multi_static_select':
        options(`${path}.options`, e.options, L.selectOptions);
        break;
      case 'checkboxes':
        options(`${path}.options`, e.options, L.checkboxOptions);
        break;
      case 'number_input':
        if (typeof e.is_decimal_allowed !== 'boolean') bad(`${path}.is_decimal_allowed`, 'required');
        if (e.initial_value !== undefined && (typeof e.initial_value !== 'string' || !/^-?\d+(\.\d+)?$/.test(e.initial_value))) bad(`${path}.initial_value`, 'not a number');
        break;
      default:
        bad(path, `unknown element ${String(e.type)}`);
    }
    const chosen = [e.initial_option, ...((e.initial_options as unknown[] | undefined) ?? [])].filter(Boolean) as Obj[];
    for (const c of chosen) if (!(e.options as Obj[]).some((o) => o.value === c.value)) bad(`${path}.initial_option`, 'not one of the options');
  };
  blocks.forEach((raw, i) => {
    const b = raw as Obj;
    const path = `blocks[${i}](${String(b.type)})`;
    if (!(where === 'message' ? MESSAGE_BLOCKS : MODAL_BLOCKS).has(String(b.type))) bad(path, 'block kind not allowed here');
    if (b.block_id !== undefined) {
      if (typeof b.block_id !== 'string' || b.block_id.length > L.blockId) bad(`${path}.block_id`, 'too long');
      else if (blockIds.has(b.block_id)) bad(`${path}.block_id`, 'duplicate');
      else blockIds.add(b.block_id);
    }
    switch (b.type) {
      case 'header':
        text(`${path}.text`, b.text, L.headerText, 'plain_text');
        break;
      case 'section': {
        if (b.text === undefined && b.fields === undefined) bad(path, 'needs text or fields');
        if (b.text !== undefined) text(`${path}.text`, b.text, L.text);
        const fields = (b.fields as unknown[] | undefined) ?? [];
        if (fields.length > L.sectionFields) bad(`${path}.fields`, 'more than 10');
        fields.forEach((f, j) => text(`${path}.fields[${j}]`, f, L.sectionField));
        break;
      }
      case 'context': {
        const els = (b.elements as unknown[] | undefined) ?? [];
        if (els.length < 1 || els.length > L.contextElements) bad(`${path}.elements`, 'needs 1–10');
        els.forEach((el, j) => text(`${path}.elements[${j}]`, el, L.text));
        break;
      }
      case 'actions': {
        const els = (b.elements as Obj[] | undefined) ?? [];
        if (els.length < 1 || els.length > 25) bad(`${path}.elements`, 'needs 1–25');
        els.forEach((el, j) => element(`${path}.elements[${j}]`, el));
        break;
      }
      case 'input':
        text(`${path}.label`, b.label, L.inputLabel, 'plain_text');
        if (b.hint !== undefined) text(`${path}.hint`, b.hint, L.inputHint, 'plain_text');
        if (!INPUT_ELEMENTS.has(String((b.element as Obj | undefined)?.type))) bad(`${path}.element`, 'not an input element');
        else element(`${path}.element`, b.element as Obj);
        if (typeof b.block_id !== 'string') bad(`${path}.block_id`, 'an input needs a block_id to find its value and its error');
        break;
    }
  });
  return problems;
}

/** Every text a payload shows (mrkdwn and plain), the fallback first. */
export function allTexts(payload: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Obj;
      if ((o.type === 'mrkdwn' || o.type === 'plain_text') && typeof o.text === 'string') out.push(o.text);
      for (const [k, x] of Object.entries(o)) if (k !== 'text' || typeof x !== 'string') walk(x);
    }
  };
  const p = payload as Obj;
  if (typeof p.text === 'string') out.push(p.text);
  walk(p.blocks ?? p);
  return out;
}

/**
 * Slack's mention and link syntax left live in a text: `<!channel>`, `<@U…>`, `<#C…>`, `<!subteam…>`,
 * a link other than the http(s) ones the builders make, or a plain broadcast word.
 */
export function livePings(texts: readonly string[]): string[] {
  return texts.flatMap((t) => [...t.matchAll(/<[!@#][^>]*>|<(?!https?:\/\/|\u2060)[^>]*>|@(?:channel|here|everyone)\b/giu)].map((m) => m[0]));
}

/** An answer a person gives a field: text, chosen option values, or a checkbox. */
export type Answer = string | string[] | boolean | null;

/**
 * The `view.state.values` Slack sends on submission: every input block, with what the
 * person answered, or the element's initial value where they left it alone.
 */
export function stateOf(view: types.ModalView, answers: Record<string, Answer> = {}): Record<string, Record<string, Obj>> {
  const out: Record<string, Record<string, Obj>> = {};
  for (const raw of view.blocks) {
    const b = raw as unknown as Obj;
    if (b.type !== 'input') continue;
    const e = b.element as Obj & { options?: Obj[] };
    const id = b.block_id as string;
    const has = Object.prototype.hasOwnProperty.call(answers, id);
    const a = answers[id];
    const option = (value: string) => {
      const o = e.options?.find((x) => x.value === value);
      if (!o) throw new Error(`${id}: ${value} is not an option (Slack would not send it)`);
      return { text: o.text, value: o.value };
    };
    let state: Obj;
    switch (e.type) {
      case 'plain_text_input':
      case 'number_input': {
        const v = has ? a : ((e.initial_value as string | undefined) ?? null);
        if (v !== null && typeof v !== 'string') throw new Error(`${id}: a text field takes text`);
        // Slack sends null for an empty field.
        state = { value: v === '' || v === null ? null : v };
        break;
      }
      case 'static_select':
        state = { selected_option: has ? (a === null ? null : option(a as string)) : ((e.initial_option) ?? null) };
        break;
      case 'multi_static_select':
        state = { selected_options: has ? ((a as string[] | null) ?? []).map(option) : ((e.initial_options) ?? []) };
        break;
      case 'checkboxes':
        state = { selected_options: has ? (a === true ? [option('true')] : []) : ((e.initial_options) ?? []) };
        break;
      default:
        throw new Error(`${id}: unknown element ${String(e.type)}`);
    }
    out[id] = { [e.action_id as string]: { type: e.type, ...state } };
  }
  return out;
}
