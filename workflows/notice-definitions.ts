/**
 * The GDPR clock's public API (GdprDeadlineWorkflow): its input, the status it
 * reports, and the query and update front doors send. Free of workflow code, so
 * clients import it without bundling the workflow.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { SignedStatement } from '../lib/identity/verify.js';
import type { Actor } from './definitions.js';
import type { TrustContext } from './incident/identity.js';

export { GDPR_DEADLINE_HOURS } from '../lib/gdpr.js';
export { gdprWorkflowId } from '../lib/ids.js';

/** Remind when this many hours remain before the deadline. */
export const DEFAULT_REMIND_HOURS_BEFORE = [66, 48, 24];

export interface GdprDeadlineInput {
  incidentId: string;
  /** ISO: the moment of awareness; the deadline is 72 h later. */
  awareAt: string;
  highRisk: boolean;
  /** Remind when this many hours remain (default 66, 48 and 24). */
  remindHoursBefore?: number[];
  declaredBy: Actor;
  approvers: Record<string, string[]>;
  /** The incident's mode, and the worker's trust context for verifying signed decisions (absent: unauthenticated or an older clock). */
  mode?: string;
  trust?: TrustContext;
}

export interface NoticeReminder {
  at: string;
  hoursBeforeDeadline: number;
}

export interface NoticeStatus {
  incidentId: string;
  awareAt: string;
  deadline: string;
  highRisk: boolean;
  reminders: NoticeReminder[];
  missed: boolean;
  sentAt?: string;
  sentBy?: string;
  reference?: string;
}

export interface NoticeSentInput {
  actor: Actor;
  signed?: SignedStatement;
  /** When it was sent, if not now (ISO). */
  at?: string;
  /** The authority's case number or similar. */
  reference?: string;
}

export const noticeStatusQuery = defineQuery<NoticeStatus>('noticeStatus');
export const noticeSentUpdate = defineUpdate<NoticeStatus, [NoticeSentInput]>('noticeSent');
