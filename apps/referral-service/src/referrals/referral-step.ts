import type { Resource } from '@carerelay/fhir-client';
import type { Command, Decision } from './referral-workflow.rules';

/** A change of a Task, as the FHIR change event carries it. */
export interface ChangedTask {
  id: string;
  status?: string;
  statusReason?: { text?: string };
  identifier?: Array<{ system?: string }>;
  partOf?: Array<{ reference?: string }>;
  output?: unknown[];
}

/** Reads the source Task's ServiceRequest and Patient: the referral's need and its CBO Tasks' basis. */
export interface ReadSourceCommand {
  kind: 'read-source';
  task: Resource;
}

export type StepCommand = Command | ReadSourceCommand;

/**
 * What the workflow decided for a referral and has not carried out yet: the FHIR writes, then the
 * events that announce them. Decided and stored in one transaction (with the inbox row of the
 * event that caused it), carried out after that transaction, finished in another. Every command is
 * idempotent, so a step cut short by a crash is simply carried out again.
 */
export interface PendingStep {
  id: string;
  commands: StepCommand[];
  events: Decision['events'];
  traceparent?: string;
  attempts: number;
  lastError?: string;
}

/** An event for a referral that arrived while a step of it was open: decided on after it. */
export type ReferralInput =
  | { kind: 'consent-granted' }
  | { kind: 'consent-revoked'; organizationId: string | null }
  | { kind: 'task-changed'; task: ChangedTask }
  | { kind: 'acceptance-breached'; attempt: number };

/** Delay before carrying out a failed step again: 1 s, doubling, at most 30 s. */
export const stepRetryMs = (attempts: number): number =>
  Math.min(30_000, 1000 * 2 ** Math.max(0, Math.min(attempts - 1, 5)));
