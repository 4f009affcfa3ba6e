/**
 * slack-ack: how fast the Slack app acks under load — Slack gives it 3 s, we aim for p99 ≤
 * 300 ms. Waves of 50 concurrent signed requests over real HTTP against the running app
 * (`startSlackServer` in a process of its own, as `firebreak slack` runs; live status refresher
 * on; its own worker, in the bench process, on the shared dev server):
 *
 * - `slack-ack`: `/incident declare` (the ack, then views.open of the modal);
 * - `slack-ack.approve`: an Approve click on 50 different open gates (the ack; then
 *   users.info, the signed vote as a Temporal Update, the gate message redrawn, a poke);
 * - `slack-ack.click-to-update`: from that click to the incident's pinned status message
 *   showing the vote (chat.update by the live refresher).
 *
 * Floors, in the same run and measured the same way (the same load-generator process, the
 * app in a process of its own): the same 50 concurrent requests to a bare Bolt app whose
 * listeners only ack, before or after the real wave, alternating; for click-to-update, one
 * status query plus one chat.update issued directly, one at a time. `--runs` counts requests
 * of each kind (rounded up to whole waves of 50); warm-up: 2 waves. The run also reports the
 * incidents' failed or timed-out workflow tasks and the app's warnings.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webApi } from '@slack/bolt';
import proto from '@temporalio/proto';
import { declareIncident, getStatus, handleFor, waitFor } from '../lib/incidents/index.js';
import { encodeGateValue, gateMessage } from '../slack/blocks/gate-message.js';
import { statusText } from '../slack/blocks/status-message.js';
import type { ApiCall } from '../test/helpers/slack-standin.js';
import { clickBody, declareBody, PEOPLE, RUNBOOK, startSlackBench, type SlackBench } from './slack-ack-setup.js';
import { percentile } from './stats.js';
import type { BenchContext, Benchmark, BenchResult } from './types.js';

const WAVE = 50;
const CHANNEL_NAME = 'inc-bench-slack-ack';
/** Clicks measured alone at the end (click → status message updated, nothing else going on). */
const SOLO = 10;

interface Gate {
  id: string;
  value: string;
  gateTs: string;
  statusTs: string;
}

let sequence = 0;

/** One request's ack latency and when it was sent (performance.now() of this process). */
type Timed = { ms: number; start: number };

async function until<T>(what: string, fn: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`slack-ack: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** 50 incidents waiting at their two-approval gate, each with a gate message and a status message in the bench channel. */
async function openGates(b: SlackBench, web: webApi.WebClient, channel: string): Promise<Gate[]> {
  // Ten at a time: 50 starts at once would be a load test of the worker, not the setting of the measurement.
  const gates: Gate[] = [];
  for (let i = 0; i < WAVE; i += 10) gates.push(...(await Promise.all(Array.from({ length: Math.min(10, WAVE - i) }, () => openGate(b, web, channel)))));
  return gates;
}

async function openGate(b: SlackBench, web: webApi.WebClient, channel: string): Promise<Gate> {
  const { client } = b;
  const { id } = await declareIncident(client, b.config, { runbook: RUNBOOK, summary: 'bench slack-ack', actor: b.actor('sa-declarer') });
  const s = await waitFor(client, id, (x) => x.gates.some((g) => g.id === 'gate' && g.state === 'open'), { timeoutMs: 60_000, intervalMs: 50 });
  const gate = s.gates.find((g) => g.id === 'gate' && g.state === 'open');
  if (!gate) throw new Error(`slack-ack: ${id} has no open gate`);
  const m = gateMessage(s, gate);
  const g = await web.chat.postMessage({ channel, text: m.text, blocks: m.blocks });
  const st = await web.chat.postMessage({ channel, text: statusText(s) });
  b.setRef(id, { channel, name: CHANNEL_NAME, statusTs: st.ts as string });
  return { id, value: encodeGateValue({ incidentId: id, gate: 'gate', argsHash: gate.argsHash }), gateTs: g.ts as string, statusTs: st.ts as string };
}

const EventType = proto.temporal.api.enums.v1.EventType;
const typeName = (t: unknown): string => String(EventType[Number(t)] ?? t).replace(/^EVENT_TYPE_/, '');
const msOf = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): number => (t ? Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6 : 0);

/**
 * From the incidents' histories: every WorkflowTaskFailed / TimedOut event ("failed <cause>: …",
 * "timed out (<type>)"), and the slowest workflow tasks (started → completed), each with the
 * event that scheduled it and what it decided — where an overloaded worker spends its tasks.
 */
async function taskFindings(b: SlackBench, ids: readonly string[]): Promise<{ failures: string[]; slow: string[]; over5s: number; tasks: number }> {
  const failures: string[] = [];
  const durations: Array<{ ms: number; what: string }> = [];
  for (let i = 0; i < ids.length; i += 10) {
    const histories = await Promise.all(ids.slice(i, i + 10).map((id) => handleFor(b.client, id).fetchHistory()));
    for (const h of histories) {
      const events = h.events ?? [];
      events.forEach((e, k) => {
        const failed = e.workflowTaskFailedEventAttributes;
        if (failed) failures.push(`failed ${String(failed.cause)}: ${(failed.failure?.message ?? '').slice(0, 160)}`);
        const timedOut = e.workflowTaskTimedOutEventAttributes;
        if (timedOut) failures.push(`timed out (${String(timedOut.timeoutType)}) at event ${String(e.eventId)}`);
        const done = e.workflowTaskCompletedEventAttributes;
        if (!done) return;
        const started = events.find((x) => Number(x.eventId) === Number(done.startedEventId));
        const scheduled = events.find((x) => Number(x.eventId) === Number(done.scheduledEventId));
        const before = events[events.indexOf(scheduled ?? e) - 1];
        const after = events.slice(k + 1, k + 3).map((x) => typeName(x.eventType));
        durations.push({ ms: msOf(e.eventTime) - msOf(started?.eventTime), what: `event ${String(started?.eventId)} after ${before ? typeName(before.eventType) : 'start'} → ${after.join(', ') || 'end'}` });
      });
    }
  }
  durations.sort((x, y) => y.ms - x.ms);
  return { failures, slow: durations.slice(0, 3).map((d) => `${d.ms.toFixed(0)} ms (${d.what})`), over5s: durations.filter((d) => d.ms > 5_000).length, tasks: durations.length };
}

/** The first chat.update of `ts` after `since` that names `name` (only a vote puts the approver on the message). */
function shownAfter(calls: ApiCall[], ts: string, since: number, name: string): ApiCall | undefined {
  return calls.find((c) => c.method === 'chat.update' && c.status === 200 && c.at > since && c.args.ts === ts && String(c.args.blocks).includes(name));
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-bench-slack-ack-'));
  const b = await startSlackBench(ctx, dir);
  const waves = ctx.warmup + Math.ceil(ctx.runs / WAVE);
  const out = { declare: [] as number[], declareFloor: [] as number[], approve: [] as number[], approveFloor: [] as number[], update: [] as number[], updateFloor: [] as number[], gate: [] as number[], solo: [] as number[], soloAck: [] as number[] };
  const opened: string[] = [];
  try {
    const web = new webApi.WebClient(b.api.token, { slackApiUrl: b.api.apiUrl });
    const { client } = b;
    const channel = (await web.conversations.create({ name: CHANNEL_NAME })).channel?.id as string;
    const scratch = (await web.chat.postMessage({ channel, text: 'floor' })).ts as string;
    let gates: Gate[] = [];
    for (let w = 0; w < waves; w += 1) {
      const record = w >= ctx.warmup;
      // Declare: the bare app and the real one (views.open follows each ack), the order alternating from wave to wave, so neither is always the one measured after the other's tail.
      const floorDeclares = () => b.wave(b.floorUrl, Array.from({ length: WAVE }, () => declareBody(b.api, PEOPLE['sa-declarer'], ++sequence)));
      const realDeclares = async () => {
        const opensBefore = b.api.callsOf('views.open').length;
        const r = await b.wave(b.appUrl, Array.from({ length: WAVE }, () => declareBody(b.api, PEOPLE['sa-declarer'], ++sequence)));
        await until('50 modals opened', () => (b.api.callsOf('views.open').length >= opensBefore + WAVE ? true : undefined));
        return r;
      };
      let fd: Timed[];
      let rd: Timed[];
      if (w % 2 === 0) {
        fd = await floorDeclares();
        rd = await realDeclares();
      } else {
        rd = await realDeclares();
        fd = await floorDeclares();
      }
      // Approve: each pair of waves votes on one set of 50 gates, first approver 1, then approver 2 (the gate passes).
      if (w % 2 === 0) {
        const since = performance.now();
        gates = await openGates(b, web, channel);
        opened.push(...gates.map((g) => g.id));
        // Settle: the refresher has found and drawn each new incident once, so its first draws and the 50 starts are not what is measured.
        await Promise.all(gates.map((g) => until(`${g.id}'s first draw`, () => b.api.calls.find((c) => c.method === 'chat.update' && c.at > since && c.args.ts === g.statusTs))));
        await new Promise((r) => setTimeout(r, 1_000));
      }
      const approver = w % 2 === 0 ? 'sa-approver-1' : 'sa-approver-2';
      // Clicks: the order alternates every second wave (so first and second votes each get both orders).
      const floorClicks = () => b.wave(b.floorUrl, gates.map((g) => clickBody(b.api, PEOPLE[approver], { channel, ts: g.gateTs }, g.value, ++sequence)));
      const floorFirst = Math.floor(w / 2) % 2 === 0;
      const fcFirst = floorFirst ? await floorClicks() : undefined;
      const rc = await b.wave(b.appUrl, gates.map((g) => clickBody(b.api, PEOPLE[approver], { channel, ts: g.gateTs }, g.value, ++sequence)));
      const shown = await Promise.all(gates.map((g, i) => until(`${g.id}'s status message showing ${approver}`, () => shownAfter(b.api.calls, g.statusTs, (rc[i] as { start: number }).start, approver))));
      const fc = fcFirst ?? (await floorClicks());
      const redrawn = gates.map((g, i) => shownAfter(b.api.calls, g.gateTs, (rc[i] as { start: number }).start, approver));
      // The floor of a redraw: one status query and one chat.update, directly, one at a time.
      const uf: number[] = [];
      for (const g of gates) {
        const t0 = performance.now();
        const s = await getStatus(client, g.id);
        await web.chat.update({ channel, ts: scratch, text: statusText(s) });
        uf.push(performance.now() - t0);
      }
      ctx.note(`wave ${w + 1}/${waves}${record ? '' : ' (warm-up)'}: declare ack p50 ${percentile(rd.map((x) => x.ms), 50).toFixed(1)} ms, approve ack p50 ${percentile(rc.map((x) => x.ms), 50).toFixed(1)} ms`);
      if (!record) continue;
      out.declare.push(...rd.map((x) => x.ms));
      out.declareFloor.push(...fd.map((x) => x.ms));
      out.approve.push(...rc.map((x) => x.ms));
      out.approveFloor.push(...fc.map((x) => x.ms));
      out.update.push(...shown.map((c, i) => c.at - (rc[i] as { start: number }).start));
      out.updateFloor.push(...uf);
      out.gate.push(...redrawn.flatMap((c, i) => (c ? [c.at - (rc[i] as { start: number }).start] : [])));
      ctx.progress(Math.min(out.declare.length, ctx.runs));
    }
    // One click at a time, on gates nobody else is clicking: what a responder sees when the app is not flooded.
    for (let i = 0; i < SOLO; i += 1) {
      const g = await openGate(b, web, channel);
      opened.push(g.id);
      await until(`${g.id}'s first draw`, () => b.api.calls.find((c) => c.method === 'chat.update' && c.args.ts === g.statusTs), 30_000);
      await new Promise((r) => setTimeout(r, 1_200));
      const [c] = await b.wave(b.appUrl, [clickBody(b.api, PEOPLE['sa-approver-1'], { channel, ts: g.gateTs }, g.value, ++sequence)]);
      if (!c) throw new Error('slack-ack: no click');
      const shown = await until(`${g.id}'s status message showing the solo vote`, () => shownAfter(b.api.calls, g.statusTs, c.start, 'sa-approver-1'));
      out.solo.push(shown.at - c.start);
      out.soloAck.push(c.ms);
    }
  } finally {
    const stats = await b.liveStats().catch(() => undefined);
    const findings = await taskFindings(b, opened).catch((err: unknown) => ({ failures: [`could not read the histories: ${(err as Error).message}`], slow: [], over5s: 0, tasks: 0 }));
    await Promise.all(opened.map((id) => handleFor(b.client, id).terminate('bench done').catch(() => undefined)));
    const problems = b.appProblems();
    await b.close();
    rmSync(dir, { recursive: true, force: true });
    if (stats) ctx.note(`live refresher: ${stats.queries} status queries, ${stats.updates} updates, ${stats.skipped} unchanged renders skipped, ${stats.rateLimited} 429s, ${stats.failed} failures`);
    const { failures } = findings;
    ctx.note(`workflow tasks failed or timed out in the ${opened.length} incidents: ${failures.length}${failures.length ? ` (${[...new Set(failures)].slice(0, 5).join('; ')})` : ''}`);
    ctx.note(`workflow tasks: ${findings.tasks}, ${findings.over5s} over 5 s; slowest: ${findings.slow.join('; ') || 'none'}`);
    ctx.note(`the Slack app logged ${problems.length} warning/error line(s)${problems.length ? `, e.g. ${problems.slice(0, 3).map((l) => l.slice(0, 300)).join(' | ')}` : ''}`);
  }
  const cut = (xs: number[]) => xs.slice(0, ctx.runs);
  const line = (what: string, xs: number[], floor: number[]) =>
    `${what}: p50 ${percentile(xs, 50).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms; floor p50 ${percentile(floor, 50).toFixed(1)} ms, p99 ${percentile(floor, 99).toFixed(1)} ms`;
  return {
    samples: cut(out.declare),
    floorSamples: cut(out.declareFloor),
    notes: [line('/incident declare ack (50 concurrent)', out.declare, out.declareFloor), line('Approve click ack (50 concurrent)', out.approve, out.approveFloor), line('click → status message updated', out.update, out.updateFloor),
      `one click alone (${SOLO}): ack p50 ${percentile(out.soloAck, 50).toFixed(1)} ms; click → status message updated p50 ${percentile(out.solo, 50).toFixed(1)} ms, max ${Math.max(...out.solo).toFixed(1)} ms`,
      ...(out.gate.length ? [`click → gate message redrawn by the click's own handler (vote counted): p50 ${percentile(out.gate, 50).toFixed(1)} ms, p99 ${percentile(out.gate, 99).toFixed(1)} ms`] : []),
    ],
    extra: [
      { name: 'approve', samples: cut(out.approve), floorSamples: cut(out.approveFloor) },
      { name: 'click-to-update', samples: cut(out.update), floorSamples: cut(out.updateFloor) },
      { name: 'click-to-update-alone', samples: out.solo, floorSamples: out.updateFloor.slice(0, SOLO) },
    ],
  };
}

export const slackAck: Benchmark = {
  name: 'slack-ack',
  unit: 'ms',
  description: 'Slack app ack latency at 50 concurrent signed requests (/incident declare; .approve: Approve clicks; .click-to-update: click → status message updated), vs a bare Bolt app that only acks',
  defaultRuns: 250,
  run,
};
