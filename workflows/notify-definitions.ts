/**
 * What the incident workflow hands the notify activities (activities/notify): the channel to
 * open at declaration and the events posted into its status message's thread. Types and
 * pure constants only: shared by workflow code and activities.
 */
import type { GateStatus, IncidentStatus, SlackChannelRef } from './definitions.js';

/** The kinds of event posted into the incident channel's thread. */
export const NOTIFY_EVENT_KINDS = ['gate-opened', 'escalation', 'step-failed', 'blocked', 'containment', 'all-clear', 'aborted', 'completed'] as const;
export type NotifyEventKind = (typeof NOTIFY_EVENT_KINDS)[number];

/** Slack message metadata types: how a retry finds what an earlier attempt already posted. */
export const SLACK_STATUS_EVENT_TYPE = 'firebreak_status';
export const SLACK_EVENT_TYPE = 'firebreak_event';

/**
 * The pinned status message's metadata. Whoever edits that message (the Slack app's live
 * refresher) sends it again with every chat.update, so the message stays findable by it.
 */
export function statusMetadata(incidentId: string): { event_type: string; event_payload: { incident_id: string } } {
  return { event_type: SLACK_STATUS_EVENT_TYPE, event_payload: { incident_id: incidentId } };
}

export interface OpenChannelInput {
  incidentId: string;
  /** The declarer as the worker verified them (a responder name): invited through their Slack id. */
  declarer: string;
  /** The status at declaration (sensitive values as fingerprints): the topic and the first status message. */
  status: IncidentStatus;
}

export interface NotifyEventInput {
  incidentId: string;
  channel: SlackChannelRef;
  /** Unique within the incident and the same on every retry (`<n>-<kind>`): a retry finds its post by it. */
  key: string;
  kind: NotifyEventKind;
  /** Firebreak's own words (the timeline line); people's text in it is escaped by the activity. */
  text: string;
  /** A link shown with the event (the post-mortem's issue). */
  url?: string;
  /** The incident as it stands when the event is sent: the channel topic follows it (set only when it changes). */
  status?: Pick<IncidentStatus, 'id' | 'state' | 'severity' | 'phase' | 'mode'>;
  /** A gate event is posted as the gate message (Approve / Deny buttons), as the gate stood when it was sent. */
  gate?: { incident: Pick<IncidentStatus, 'id' | 'state' | 'mode' | 'steps'>; gate: GateStatus };
}

export interface NotifyEventResult {
  ts: string;
  /** False when an earlier attempt had posted it: this one edited it (chat.update). */
  posted: boolean;
}
