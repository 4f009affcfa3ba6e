/**
 * The declare modal: generated from each runbook's typed params in blocks Slack accepts, and
 * its submission judged with the CLI's rules — good values become the request the incident
 * service takes, bad ones an error on their own field.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, PROJECT_ROOT, type Config } from '../../lib/config.js';
import { prepareDeclaration } from '../../lib/incidents/declare.js';
import { coerceParams, listRunbooks, loadRunbook, parseRunbook } from '../../lib/runbook/loader.js';
import type { ParamSpec, RunbookDoc } from '../../lib/runbook/types.js';
import {
  chosenRunbook,
  DECLARE_BLOCKS,
  DECLARE_CALLBACK_ID,
  DECLARE_RUNBOOK_ACTION,
  DECLARE_VALUE_ACTION,
  declareInitialFrom,
  declareModal,
  DeclareMetadataError,
  encodeDeclareMetadata,
  MAX_PARAM_BLOCKS,
  paramBlockId,
  parseDeclareMetadata,
  parseDeclareSubmission,
} from '../../slack/blocks/declare-modal.js';
import { SLACK_LIMITS } from '../../slack/blocks/text.js';
import { allTexts, livePings, shapeProblems, stateOf, type Answer } from './slack-blocks-shape.js';

const dir = join(PROJECT_ROOT, 'runbooks');
const shipped = listRunbooks(dir).filter((r) => r.valid);
const docOf = (name: string): RunbookDoc => loadRunbook(dir, name).doc;
const TARGETS = ['prod', 'staging'];
const base = { runbooks: shipped.map((r) => ({ name: r.name, title: r.title })), targets: TARGETS, defaultTarget: 'prod' };

type Input = { type: 'input'; block_id: string; optional: boolean; label: { text: string }; hint?: { text: string }; element: Record<string, unknown> & { type: string } };
const inputs = (view: { blocks: unknown[] }): Input[] => view.blocks.filter((b) => (b as { type: string }).type === 'input') as Input[];
const inputFor = (view: { blocks: unknown[] }, id: string): Input => {
  const found = inputs(view).find((b) => b.block_id === id);
  if (!found) throw new Error(`no input ${id}`);
  return found;
};

/** What each param type must look like in the form. */
function expectField(field: Input, spec: ParamSpec): void {
  const e = field.element;
  expect(e.action_id).toBe(DECLARE_VALUE_ACTION);
  if (spec.type === 'boolean') {
    expect(e.type).toBe('checkboxes');
    expect(field.optional).toBe(true);
    expect(e.initial_options ? true : false).toBe(spec.default === true);
    return;
  }
  expect(field.optional).toBe(!spec.required);
  if (spec.sensitive) {
    expect(e.type).toBe('plain_text_input');
    expect(e.initial_value).toBeUndefined();
    expect(field.hint?.text).toContain('Sensitive: stored encrypted');
  } else if (spec.enum) expect(e.type).toBe(spec.type === 'string[]' ? 'multi_static_select' : 'static_select');
  else if (spec.type === 'integer' || spec.type === 'number') {
    expect(e).toMatchObject({ type: 'number_input', is_decimal_allowed: spec.type === 'number' });
  } else {
    expect(e).toMatchObject({ type: 'plain_text_input', multiline: spec.type === 'string[]' });
    const d = spec.default;
    if (d !== undefined && d !== '' && !(Array.isArray(d) && d.length === 0)) expect(e.initial_value).toBe(Array.isArray(d) ? d.join('\n') : String(d));
  }
  if (spec.description) expect(field.hint?.text).toContain(spec.description.slice(0, 40));
}

const ALL_TYPES = `name: every-type
title: Every param type
severity: medium
params:
  reason: { type: string, required: true, description: Why }
  count: { type: integer, default: 3 }
  ratio: { type: number }
  flag: { type: boolean, default: true }
  off: { type: boolean }
  ids: { type: "string[]", default: [] }
  hosts: { type: "string[]", default: [a.example, b.example] }
  scope: { type: string, enum: [jti, user, all], default: user }
  scopes: { type: "string[]", enum: [a, b, c] }
  api_key: { type: string, sensitive: true }
  pin: { type: integer, sensitive: true }
`;
const every = parseRunbook(ALL_TYPES, 'every-type.yaml').doc;
const everyView = () => declareModal({ ...base, runbooks: [...base.runbooks, { name: every.name, title: every.title }], runbook: every });
const P = (name: string) => paramBlockId(every.name, name);

describe('declare modal', () => {
  it('ships runbooks with params of every kind the form knows', () => {
    expect(shipped.map((r) => r.name).sort()).toEqual(['admin-compromise', 'ban-lift', 'lockdown', 'sqli', 'token-leak']);
    const types = new Set(shipped.flatMap((r) => Object.values(docOf(r.name).params).map((p) => p.type)));
    expect([...types].sort()).toEqual(['boolean', 'string', 'string[]']);
  });

  for (const r of shipped) {
    it(`generates the form of ${r.name} from its typed params, in blocks a modal accepts`, () => {
      const doc = docOf(r.name);
      const view = declareModal({ ...base, runbook: doc, channel: 'C0123ABC' });
      expect(shapeProblems(view.blocks, 'modal')).toEqual([]);
      expect(view).toMatchObject({ type: 'modal', callback_id: DECLARE_CALLBACK_ID, title: { text: 'Declare an incident' }, submit: { text: 'Declare' } });
      expect(view.title.text.length).toBeLessThanOrEqual(SLACK_LIMITS.modalTitle);
      expect(parseDeclareMetadata(view.private_metadata)).toEqual({ runbook: doc.name, channel: 'C0123ABC' });
      const runbookSelect = inputFor(view, DECLARE_BLOCKS.runbook);
      expect(runbookSelect).toMatchObject({ dispatch_action: true, element: { type: 'static_select', action_id: DECLARE_RUNBOOK_ACTION, initial_option: { value: doc.name } } });
      expect(inputFor(view, DECLARE_BLOCKS.severity).element.initial_option).toMatchObject({ value: doc.severity });
      expect(inputFor(view, DECLARE_BLOCKS.target).element.initial_option).toMatchObject({ value: 'prod' });
      expect(inputFor(view, DECLARE_BLOCKS.mode).element.initial_option).toMatchObject({ value: 'live' });
      for (const [name, spec] of Object.entries(doc.params)) expectField(inputFor(view, paramBlockId(doc.name, name)), spec);
      expect(inputs(view)).toHaveLength(5 + Object.keys(doc.params).length);
    });

    it(`parses a submission of ${r.name} into what the CLI would declare`, () => {
      const doc = docOf(r.name);
      const view = declareModal({ ...base, runbook: doc });
      // Required params answered the way a person would, the rest left at their defaults.
      const answers: Record<string, Answer> = { [DECLARE_BLOCKS.summary]: 'seen in the WAF log' };
      const cli: Record<string, string> = {};
      for (const [name, spec] of Object.entries(doc.params)) {
        if (!spec.required) continue;
        answers[paramBlockId(doc.name, name)] = spec.type === 'string[]' ? '203.0.113.7\n 198.51.100.0/24, 192.0.2.1\n\n' : 'a reason';
        cli[name] = spec.type === 'string[]' ? '203.0.113.7, 198.51.100.0/24,192.0.2.1' : 'a reason';
      }
      const parsed = parseDeclareSubmission(stateOf(view, answers), doc, { targets: TARGETS });
      expect(parsed).toEqual({
        ok: true,
        request: { runbook: doc.name, target: 'prod', severity: doc.severity, mode: 'live', summary: 'seen in the WAF log', params: coerceParams(doc, cli) },
      });
    });
  }

  it('the incident service accepts what the modal parsed, with the same params as a CLI declaration', () => {
    const config: Readonly<Config> = { ...loadConfig({ env: {}, cwd: '/' }), runbooksDir: dir };
    const actor = { user: 'unit', host: 'test', via: 'slack' as const };
    for (const name of ['token-leak', 'ban-lift', 'lockdown']) {
      const doc = docOf(name);
      const view = declareModal({ ...base, targets: [config.defaultTarget], defaultTarget: config.defaultTarget, runbook: doc });
      const answers: Record<string, Answer> = {};
      if (name === 'ban-lift') Object.assign(answers, { [paramBlockId(name, 'addresses')]: '203.0.113.7', [paramBlockId(name, 'reason')]: 'false positive' });
      const parsed = parseDeclareSubmission(stateOf(view, answers), doc, { targets: [config.defaultTarget] });
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
      const fromSlack = prepareDeclaration(config, { ...parsed.request, actor });
      const cliParams: Record<string, string> = name === 'ban-lift' ? { addresses: '203.0.113.7', reason: 'false positive' } : {};
      const fromCli = prepareDeclaration(config, { runbook: name, params: cliParams, actor });
      expect(fromSlack.input.params).toEqual(fromCli.input.params);
      expect([fromSlack.input.target, fromSlack.input.mode, fromSlack.input.severity]).toEqual([fromCli.input.target, fromCli.input.mode, fromCli.input.severity]);
    }
  });

  it('generates every param type: integer and number inputs, enums as selects, sensitive ones as plain text with a hint', () => {
    const view = everyView();
    expect(shapeProblems(view.blocks, 'modal')).toEqual([]);
    for (const [name, spec] of Object.entries(every.params)) expectField(inputFor(view, P(name)), spec);
    expect(inputFor(view, P('count')).element).toMatchObject({ type: 'number_input', is_decimal_allowed: false, initial_value: '3' });
    expect(inputFor(view, P('scope')).element).toMatchObject({ initial_option: { value: 'user' } });
    expect((inputFor(view, P('scopes')).element.options as Array<{ value: string }>).map((o) => o.value)).toEqual(['a', 'b', 'c']);
    expect(inputFor(view, P('pin')).element).toMatchObject({ type: 'plain_text_input', multiline: false });
    expect(inputFor(view, P('hosts')).element).toMatchObject({ initial_value: 'a.example\nb.example' });
    expect(inputFor(view, P('hosts')).hint?.text).toContain('Default: a.example, b.example.');
  });

  it('parses good values of every type with the CLI’s coercion', () => {
    const answers: Record<string, Answer> = {
      [P('reason')]: 'r',
      [P('count')]: '-5',
      [P('ratio')]: '0.25',
      [P('flag')]: false,
      [P('off')]: true,
      [P('ids')]: 'u1\nu2, u3\n',
      [P('hosts')]: '',
      [P('scope')]: 'all',
      [P('scopes')]: ['a', 'c'],
      [P('api_key')]: 's3cret',
      [P('pin')]: '1234',
    };
    const parsed = parseDeclareSubmission(stateOf(everyView(), answers), every, { targets: TARGETS });
    expect(parsed).toEqual({
      ok: true,
      request: {
        runbook: 'every-type',
        target: 'prod',
        severity: 'medium',
        mode: 'live',
        // An emptied list with a default means none, as `--set hosts=` does.
        params: { reason: 'r', count: -5, ratio: 0.25, flag: false, off: true, ids: ['u1', 'u2', 'u3'], hosts: [], scope: 'all', scopes: ['a', 'c'], api_key: 's3cret', pin: 1234 },
      },
    });
    // Left alone: the defaults, exactly as coerceParams fills them.
    const untouched = parseDeclareSubmission(stateOf(everyView(), { [P('reason')]: 'r' }), every);
    expect(untouched.ok && untouched.request.params).toEqual({ ...coerceParams(every, { reason: 'r' }), off: false });
  });

  it('puts each bad value’s error on its own field, never echoing a sensitive value', () => {
    const state = stateOf(everyView(), { [P('reason')]: null, [P('count')]: '2.5', [P('ratio')]: 'abc', [P('pin')]: 'hunter2', [P('ids')]: ' , ,' });
    // Values Slack's own elements would not send: forged options and 10 kB of text.
    (state[P('scope')] as Record<string, unknown>)[DECLARE_VALUE_ACTION] = { type: 'static_select', selected_option: { value: 'everyone' } };
    (state[P('scopes')] as Record<string, unknown>)[DECLARE_VALUE_ACTION] = { type: 'multi_static_select', selected_options: [{ value: 'a' }, { value: 'z' }] };
    (state[P('api_key')] as Record<string, unknown>)[DECLARE_VALUE_ACTION] = { type: 'plain_text_input', value: 'k'.repeat(10_000) };
    const parsed = parseDeclareSubmission(state, every, { targets: TARGETS });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.errors).toEqual({
      [P('reason')]: 'Required.',
      [P('count')]: "param 'count' (integer): expected an integer, got \"2.5\"",
      [P('ratio')]: "param 'ratio' (number): expected a number, got \"abc\"",
      [P('pin')]: "param 'pin' (integer): expected an integer, got (sensitive value hidden)",
      [P('ids')]: "param 'ids' (string[]): the list is only blanks and commas (got \" , ,\"); leave the parameter out for none",
      [P('scope')]: "param 'scope' (string): \"everyone\" is not one of: jti, user, all",
      [P('scopes')]: "param 'scopes' (string[]): \"z\" is not one of: a, b, c",
      [P('api_key')]: 'At most 3000 characters.',
    });
    expect(JSON.stringify(parsed.errors)).not.toContain('hunter2');
    for (const message of Object.values(parsed.errors)) expect(message.length).toBeLessThanOrEqual(500);
  });

  it('refuses the fixed fields on their own blocks: runbook, target, severity, mode, summary', () => {
    const doc = docOf('lockdown');
    const view = declareModal({ ...base, runbook: doc });
    const state = stateOf(view, { [DECLARE_BLOCKS.target]: null, [DECLARE_BLOCKS.summary]: 's'.repeat(1001) });
    (state[DECLARE_BLOCKS.severity] as Record<string, unknown>)[DECLARE_VALUE_ACTION] = { type: 'static_select', selected_option: { value: 'apocalyptic' } };
    (state[DECLARE_BLOCKS.mode] as Record<string, unknown>)[DECLARE_VALUE_ACTION] = { type: 'static_select', selected_option: { value: 'yolo' } };
    expect(parseDeclareSubmission(state, doc, { targets: TARGETS })).toEqual({
      ok: false,
      errors: {
        [DECLARE_BLOCKS.target]: 'Choose a target.',
        [DECLARE_BLOCKS.severity]: 'One of: low, medium, high, critical.',
        [DECLARE_BLOCKS.mode]: 'One of: live, dry-run, drill.',
        [DECLARE_BLOCKS.summary]: 'The summary is limited to 1000 characters (got 1001)',
      },
    });
    // A target the front door does not offer (forged), and a runbook switched without the form reloading.
    const forged = stateOf(declareModal({ ...base, runbook: doc }), { [DECLARE_BLOCKS.runbook]: 'sqli' });
    (forged[DECLARE_BLOCKS.target] as Record<string, unknown>)[DECLARE_VALUE_ACTION] = { type: 'static_select', selected_option: { value: 'elsewhere' } };
    expect(parseDeclareSubmission(forged, doc, { targets: TARGETS })).toEqual({
      ok: false,
      errors: {
        [DECLARE_BLOCKS.runbook]: 'The form below is for runbook lockdown: choose the runbook again to reload it.',
        [DECLARE_BLOCKS.target]: 'Unknown target; one of: prod, staging.',
      },
    });
    expect(parseDeclareSubmission(stateOf(declareModal(base)), undefined)).toEqual({ ok: false, errors: { [DECLARE_BLOCKS.runbook]: 'Choose a runbook.' } });
    // Not a view state at all.
    for (const junk of [null, 'x', 42, [], { runbook: 'x' }]) expect(parseDeclareSubmission(junk, doc).ok).toBe(false);
  });

  it('still builds a valid modal with no targets or runbooks listed, and always offers the chosen runbook', () => {
    const bare = declareModal({ runbooks: [], targets: [] });
    expect(shapeProblems(bare.blocks, 'modal')).toEqual([]);
    expect(inputFor(bare, 'target').element.type).toBe('plain_text_input');
    const view = declareModal({ runbooks: [], targets: ['prod'], runbook: every });
    expect(shapeProblems(view.blocks, 'modal')).toEqual([]);
    expect(inputFor(view, 'runbook').element.initial_option).toMatchObject({ value: 'every-type' });
    expect(parseDeclareSubmission(stateOf(view, { [P('reason')]: 'r' }), every).ok).toBe(true);
  });

  it('before a runbook is chosen: the fixed fields and a pointer, nothing else', () => {
    const view = declareModal(base);
    expect(shapeProblems(view.blocks, 'modal')).toEqual([]);
    expect(inputs(view).map((b) => b.block_id)).toEqual(['runbook', 'target', 'severity', 'mode', 'summary']);
    expect(allTexts(view).join('\n')).toContain('Choose a runbook to see its parameters.');
    expect(parseDeclareMetadata(view.private_metadata)).toEqual({});
    expect((inputFor(view, 'runbook').element.options as unknown[]).length).toBe(shipped.length);
  });

  it('keeps the fixed fields across a runbook switch, and never carries a param field from one runbook to another', () => {
    const first = declareModal({ ...base, runbook: docOf('sqli') });
    const state = stateOf(first, { [DECLARE_BLOCKS.runbook]: 'token-leak', [DECLARE_BLOCKS.target]: 'staging', [DECLARE_BLOCKS.severity]: 'low', [DECLARE_BLOCKS.summary]: 'pager' });
    expect(chosenRunbook(state)).toBe('token-leak');
    const initial = declareInitialFrom(state);
    expect(initial).toEqual({ target: 'staging', severity: 'low', mode: 'live', summary: 'pager' });
    const second = declareModal({ ...base, runbook: docOf('token-leak'), initial });
    expect(inputFor(second, 'target').element.initial_option).toMatchObject({ value: 'staging' });
    expect(inputFor(second, 'severity').element.initial_option).toMatchObject({ value: 'low' });
    expect(inputFor(second, 'summary').element.initial_value).toBe('pager');
    // Both runbooks take `reason`; its blocks differ, so Slack cannot keep sqli's reason in token-leak's form.
    const ids = (v: { blocks: unknown[] }) => new Set(inputs(v).map((b) => b.block_id).filter((id) => id.startsWith('param:')));
    expect([...ids(first)].filter((id) => ids(second).has(id))).toEqual([]);
    expect(chosenRunbook({ runbook: { [DECLARE_RUNBOOK_ACTION]: { selected_option: { value: '../etc/passwd' } } } })).toBeUndefined();
  });

  it('stays within 100 blocks for a runbook with more params than fit, and says which keep their defaults', () => {
    const names = Array.from({ length: 130 }, (_, i) => `p${i}`);
    const yaml = `name: wide\ntitle: Wide\nseverity: low\nparams:\n${names.map((n, i) => `  ${n}: { type: string, ${i === 120 ? 'required: true' : 'default: d'}, description: "${'<!channel> '.repeat(20)}" }`).join('\n')}\n`;
    const wide = parseRunbook(yaml, 'wide.yaml').doc;
    const view = declareModal({ ...base, runbooks: [{ name: 'wide', title: 'Wide' }], runbook: wide });
    expect(shapeProblems(view.blocks, 'modal')).toEqual([]);
    expect(inputs(view)).toHaveLength(5 + MAX_PARAM_BLOCKS);
    expect(allTexts(view).join('\n')).toContain(`${130 - MAX_PARAM_BLOCKS} more parameters keep their defaults here (declare with the CLI to set them): p90, p91`);
    expect(livePings(allTexts(view))).toEqual([]);
    const parsed = parseDeclareSubmission(stateOf(view), wide);
    expect(parsed).toEqual({ ok: false, errors: { runbook: 'Parameter p120 is required and not in this form: declare with the CLI.' } });
  });
});

describe('declare modal metadata', () => {
  it('round-trips the runbook and channel, compact and bounded', () => {
    const text = encodeDeclareMetadata({ runbook: 'token-leak', channel: 'C0123ABC' });
    expect(text).toBe('{"runbook":"token-leak","channel":"C0123ABC"}');
    expect(parseDeclareMetadata(text)).toEqual({ runbook: 'token-leak', channel: 'C0123ABC' });
    expect(parseDeclareMetadata('')).toEqual({});
    expect(encodeDeclareMetadata({ runbook: 'r'.repeat(100), channel: 'C'.repeat(40) }).length).toBeLessThanOrEqual(SLACK_LIMITS.privateMetadata);
  });

  it('refuses metadata it did not write', () => {
    for (const bad of ['x'.repeat(3001), '{', '[]', 'null', '{"runbook":"../x.yaml"}', '{"runbook":"sqli","user":"U1"}', '{"channel":"#general"}', '{"runbook":7}', 42]) {
      expect(() => parseDeclareMetadata(bad), String(bad).slice(0, 40)).toThrow(DeclareMetadataError);
    }
    expect(() => encodeDeclareMetadata({ runbook: '/etc/passwd' })).toThrow(DeclareMetadataError);
  });
});
