import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { ReferralEventTypes, ReferralEventV1, ReferralState } from '@carerelay/contracts';
import {
  DeriveNeedInput,
  ReferralNeed,
  deriveReferralNeed,
  rankServices,
} from '@carerelay/directory';
import { FhirRequestError, Resource } from '@carerelay/fhir-client';
import { OutboxWriter } from '@carerelay/messaging';
import {
  ConsentCoverage,
  ConsentView,
  coversAnyone,
  coversOrganization,
} from '../consent-view/consent-view';
import { DirectoryView } from '../directory-view/directory-view';
import {
  CreatedCboTask,
  ReferralFhirGateway,
  SourceContext,
  SourceTaskUpdate,
  sourceTaskIdOfCboTask,
} from '../fhir/referral-fhir.gateway';
import { keptSource } from '../fhir/cbo-copy.mapping';
import { Referral } from './referral.entity';
import { NewReferral } from './referral-intake.rules';
import { ChangedTask, PendingStep, ReferralInput, StepCommand } from './referral-step';
import { ReferralStepRepository } from './referral-step.repository';
import {
  CboTaskFacts,
  Decision,
  ReferralSnapshot,
  RerouteCause,
  RoutingPolicy,
  acceptanceBreachCause,
  decideRoute,
  isOpen,
  onCboTaskChanged,
  onConsentKnown,
  onConsentRevoked,
  onSourceCancelled,
  rejectionCause,
} from './referral-workflow.rules';

export type { ChangedTask } from './referral-step';

/** What the reconciliation found out of step, and where the referral stands after the repair. */
export interface Repair {
  kind: 'cbo-task' | 'consent';
  from: ReferralState;
  to: ReferralState;
}

/** What carrying out a step found: the results the finishing transaction records. */
export interface StepResults {
  /** The source Task is gone: nothing to route. */
  gone?: boolean;
  need?: ReferralNeed & { notes?: string[] };
  source?: SourceContext;
  created?: CreatedCboTask & { serviceId: string };
  /** The CBO Task was there before (an earlier try made it): where it stands now. */
  catchUp?: CboTaskFacts;
}

const factsOf = (task: ChangedTask): CboTaskFacts => ({
  taskId: task.id,
  status: task.status ?? '',
  statusReason: task.statusReason?.text,
  ...(task.output ? { output: task.output } : {}),
});

const sourceTaskUpdateOf = (
  command: Extract<StepCommand, { kind: 'update-source-task' }>,
): SourceTaskUpdate => ({
  status: command.status,
  statusReason: command.statusReason,
  businessStatus: command.businessStatus,
  output: command.output,
});

/**
 * The source Task update a step's next command asks for, when it can go into the transaction of
 * the command before it: not one that must first read the CBO Task's output.
 */
const foldableSourceUpdate = (next: StepCommand | undefined): SourceTaskUpdate | undefined =>
  next?.kind === 'update-source-task' && !next.copyOutputFromCboTask
    ? sourceTaskUpdateOf(next)
    : undefined;

export const REFERRAL_FHIR_GATEWAY = Symbol('REFERRAL_FHIR_GATEWAY');
export const ROUTING_POLICY = Symbol('ROUTING_POLICY');

const snapshotOf = (referral: Referral): ReferralSnapshot => ({
  id: referral.id,
  state: referral.state,
  attempt: referral.attempt,
  targetOrganizationId: referral.targetOrganizationId,
  cboTaskId: referral.cboTaskId,
  triedOrganizationIds: referral.triedOrganizationIds ?? [],
});

const isGone = (error: unknown) =>
  error instanceof FhirRequestError && (error.status === 404 || error.status === 410);

/** What carrying out a referral's open step came to, and whether another step is open after it. */
export interface CarriedOut {
  outcome: 'none' | 'recorded' | 'superseded';
  open: boolean;
}

/**
 * The workflow in two halves. Deciding runs in the caller's transaction (the consumer's inbox
 * transaction): it locks the referral, applies the pure rules to what it knows locally (the
 * referral, consents, directory) and stores the step it decided on the referral row — no network
 * call while the transaction is open. Carrying out (`carryOut`) runs after commit: the FHIR writes
 * through the FHIR API, then a short transaction records their results and announces the events.
 * An event that reaches a referral while a step of it is open waits in the referral's inbox and is
 * decided on once the step is done, so one referral's events still apply one at a time, in order.
 */
@Injectable()
export class ReferralWorkflowService {
  constructor(
    private readonly outbox: OutboxWriter,
    private readonly directory: DirectoryView,
    private readonly consents: ConsentView,
    private readonly steps: ReferralStepRepository,
    @Inject(REFERRAL_FHIR_GATEWAY) private readonly fhir: ReferralFhirGateway,
    @Inject(ROUTING_POLICY) private readonly policy: RoutingPolicy,
  ) {}

  async intake(
    manager: EntityManager,
    intake: NewReferral,
    task: Resource,
    traceparent?: string,
  ): Promise<void> {
    // Held until commit: a change of the CBO Task this intake leads to waits for the referral row
    // instead of finding none (the row is invisible to others until then).
    await this.lockReferralId(manager, intake.taskId);
    // Before the referral row exists for others: a consent event of this patient either
    // committed before (the step's consent gate sees it) or waits and then finds the referral.
    if (intake.patientId) await this.consents.lockPatient(manager, intake.patientId);
    const step: PendingStep = {
      id: randomUUID(),
      commands: [{ kind: 'read-source', task: { ...task, id: intake.taskId } }],
      events: [{ state: 'requested' }],
      traceparent,
      attempts: 0,
    };
    await this.steps.insertReferral(manager, intake, step);
  }

  /** Whether a referral exists for this source Task (taken in before). */
  async isReferral(taskId: string): Promise<boolean> {
    return (await this.steps.find(taskId)) !== null;
  }

  async consentGranted(
    manager: EntityManager,
    patientId: string,
    traceparent?: string,
  ): Promise<void> {
    for (const referral of await this.lockOpenForPatient(manager, patientId)) {
      if (referral.pending || referral.state === 'awaiting-consent')
        await this.offer(manager, referral, { kind: 'consent-granted' }, traceparent);
    }
  }

  async consentRevoked(
    manager: EntityManager,
    patientId: string,
    organizationId: string | null,
    traceparent?: string,
  ): Promise<void> {
    for (const referral of await this.lockOpenForPatient(manager, patientId))
      await this.offer(manager, referral, { kind: 'consent-revoked', organizationId }, traceparent);
  }

  async taskChanged(
    manager: EntityManager,
    task: ChangedTask,
    traceparent?: string,
  ): Promise<void> {
    const sourceId = sourceTaskIdOfCboTask(task);
    if (sourceId) {
      // By the source id, not by cbo_task_id: the routing that made this Task may not have
      // recorded its id yet; its step is then open, and the change waits behind it.
      await this.lockReferralId(manager, sourceId);
      const referral = await this.lock(manager, sourceId);
      if (referral)
        await this.offer(manager, referral, { kind: 'task-changed', task }, traceparent);
      return;
    }
    const cboReferral = await this.lockBy(manager, 'cbo_task_id', task.id);
    if (cboReferral) {
      await this.offer(manager, cboReferral, { kind: 'task-changed', task }, traceparent);
      return;
    }
    if (task.status === 'cancelled') {
      const source = await this.lock(manager, task.id);
      if (source) await this.offer(manager, source, { kind: 'task-changed', task }, traceparent);
    }
  }

  async acceptanceBreached(
    manager: EntityManager,
    referralId: string,
    attempt: number,
    traceparent?: string,
  ) {
    const referral = await this.lock(manager, referralId);
    if (referral)
      await this.offer(manager, referral, { kind: 'acceptance-breached', attempt }, traceparent);
  }

  /**
   * Compares one referral with what its CBO Task (as read just before, outside the transaction)
   * and the patient's consents say now, and decides the moves where it lags behind; returns the
   * repair decided, if any. The caller carries the step out after commit.
   */
  async reconcile(
    manager: EntityManager,
    referralId: string,
    cboTask?: ChangedTask,
  ): Promise<Repair | undefined> {
    await this.lockReferralId(manager, referralId);
    const referral = await this.lock(manager, referralId);
    if (!referral || referral.pending || !isOpen(referral.state)) return undefined;
    const from = referral.state;
    if (referral.state === 'awaiting-consent') {
      await this.gateOnConsent(manager, referral);
      return referral.state === from ? undefined : { kind: 'consent', from, to: referral.state };
    }
    if (!referral.cboTaskId || cboTask?.id !== referral.cboTaskId) return undefined;
    const moved = await this.cboTaskChanged(manager, referral, factsOf(cboTask));
    return moved ? { kind: 'cbo-task', from, to: referral.state } : undefined;
  }

  /** The CBO Task of an open referral, read for the reconciliation (outside any transaction). */
  async currentCboTask(referralId: string): Promise<ChangedTask | undefined> {
    const referral = await this.steps.find(referralId);
    if (!referral?.cboTaskId || referral.pending || !isOpen(referral.state)) return undefined;
    try {
      return { ...(await this.fhir.readTask(referral.cboTaskId)), id: referral.cboTaskId };
    } catch (error) {
      if (isGone(error)) return undefined;
      throw error;
    }
  }

  /**
   * Carries out the open step of a referral, if any: its FHIR writes (no transaction open), then
   * one transaction that records the results, announces the events and decides what waited.
   * Says whether it recorded the step (`superseded`: another run had recorded it first) and
   * whether another step is open afterwards.
   */
  async carryOut(
    referralId: string,
    transaction: <T>(work: (manager: EntityManager) => Promise<T>) => Promise<T>,
  ): Promise<CarriedOut> {
    const referral = await this.steps.find(referralId);
    const step = referral?.pending;
    if (!referral || !step) return { outcome: 'none', open: false };
    let results: StepResults;
    try {
      results = await this.act(referral, step);
    } catch (error) {
      await this.steps.failed(referralId, step, error);
      throw error;
    }
    return transaction((manager) => this.finish(manager, referralId, step.id, results));
  }

  private async act(referral: Referral, step: PendingStep): Promise<StepResults> {
    const results: StepResults = {};
    let cboTaskId = referral.cboTaskId;
    let sourceUpdated = false;
    for (const [index, command] of step.commands.entries()) {
      switch (command.kind) {
        case 'read-source': {
          let source: SourceContext;
          try {
            source = await this.fhir.sourceContextOf(command.task);
          } catch (error) {
            // A change event for a Task the FHIR API no longer has: nothing to route.
            if (isGone(error)) return { gone: true };
            throw error;
          }
          results.need = this.needOf(source);
          results.source = keptSource(source, this.fhir.localBaseUrls);
          break;
        }
        case 'create-cbo-task': {
          const source =
            referral.source ??
            keptSource(await this.fhir.sourceContext(referral.id), this.fhir.localBaseUrls);
          // The source Task's update that follows goes into the routing's own transaction.
          const created = await this.fhir.createCboTask({
            referralId: referral.id,
            attempt: command.attempt,
            organizationId: command.organizationId,
            source,
            sourceUpdate: foldableSourceUpdate(step.commands[index + 1]),
          });
          sourceUpdated = created.sourceUpdated;
          results.created = { ...created, serviceId: command.serviceId };
          cboTaskId = created.taskId;
          if (created.alreadyExisted) {
            // An earlier try made the Task; the CBO may have acted on it meanwhile.
            const task = await this.fhir.readTask(created.taskId);
            results.catchUp = factsOf({ ...task, id: created.taskId });
          }
          break;
        }
        case 'cancel-cbo-task':
          await this.fhir.cancelCboTask(command.cboTaskId, command.reason);
          break;
        case 'update-source-task': {
          if (sourceUpdated) {
            sourceUpdated = false;
            break;
          }
          const output =
            command.output ??
            (command.copyOutputFromCboTask && cboTaskId
              ? (await this.fhir.readTask(cboTaskId)).output
              : undefined);
          await this.fhir.updateSourceTask(referral.id, { ...sourceTaskUpdateOf(command), output });
          break;
        }
        case 'complete-source-service-request': {
          if (!referral.serviceRequestId) break;
          // With the source Task's completion that follows, in one transaction.
          const completion = foldableSourceUpdate(step.commands[index + 1]);
          if (completion) {
            await this.fhir.completeSource(referral.serviceRequestId, referral.id, completion);
            sourceUpdated = true;
          } else await this.fhir.completeServiceRequest(referral.serviceRequestId);
          break;
        }
      }
    }
    return results;
  }

  private async finish(
    manager: EntityManager,
    referralId: string,
    stepId: string,
    results: StepResults,
  ): Promise<CarriedOut> {
    const referral = await this.lock(manager, referralId);
    // Another run finished this step first.
    if (!referral || referral.pending?.id !== stepId)
      return { outcome: 'superseded', open: Boolean(referral?.pending) };
    const step = referral.pending;
    if (results.gone) {
      await this.steps.forget(manager, referralId);
      return { outcome: 'recorded', open: false };
    }
    if (results.need) referral.need = results.need as unknown as Record<string, unknown>;
    if (results.source) referral.source = results.source;
    if (results.created) {
      referral.cboTaskId = results.created.taskId;
      referral.cboServiceRequestId = results.created.serviceRequestId;
      referral.targetServiceId = results.created.serviceId;
    }
    referral.pending = null;
    referral.pendingDue = null;
    await this.steps.save(manager, referral);
    await this.emit(manager, referral, step.events, step.traceparent);
    if (results.source) await this.gateOnConsent(manager, referral, step.traceparent);
    else if (results.catchUp)
      await this.cboTaskChanged(manager, referral, results.catchUp, step.traceparent);
    // Then what waited for this step, until one of them opens a step again.
    while (!referral.pending) {
      const next = await this.steps.takeInput(manager, referralId);
      if (!next) break;
      await this.decide(manager, referral, next.input, next.traceparent);
    }
    return { outcome: 'recorded', open: Boolean(referral.pending) };
  }

  /** Decides now, or — while a step of the referral is open — after it, in arrival order. */
  private async offer(
    manager: EntityManager,
    referral: Referral,
    input: ReferralInput,
    traceparent?: string,
  ): Promise<void> {
    if (referral.pending) await this.steps.queueInput(manager, referral.id, input, traceparent);
    else await this.decide(manager, referral, input, traceparent);
  }

  private async decide(
    manager: EntityManager,
    referral: Referral,
    input: ReferralInput,
    traceparent?: string,
  ): Promise<void> {
    switch (input.kind) {
      case 'consent-granted':
        if (referral.state === 'awaiting-consent')
          await this.gateOnConsent(manager, referral, traceparent);
        return;
      case 'consent-revoked': {
        if (!isOpen(referral.state) || !referral.patientId) return;
        const coverage = await this.consents.coverage(manager, referral.patientId);
        // Another consent still covering the target keeps the referral where it is.
        if (
          referral.targetOrganizationId &&
          coversOrganization(coverage, referral.targetOrganizationId)
        )
          return;
        const decision = onConsentRevoked(
          snapshotOf(referral),
          input.organizationId ?? referral.targetOrganizationId,
        );
        await this.apply(manager, referral, decision, traceparent);
        return;
      }
      case 'task-changed': {
        const task = input.task;
        if (referral.cboTaskId === task.id) {
          await this.cboTaskChanged(manager, referral, factsOf(task), traceparent);
        } else if (task.id === referral.id && task.status === 'cancelled') {
          await this.apply(
            manager,
            referral,
            onSourceCancelled(snapshotOf(referral), task.statusReason?.text),
            traceparent,
          );
        }
        return;
      }
      case 'acceptance-breached': {
        const cause = acceptanceBreachCause(snapshotOf(referral), input.attempt);
        if (cause) await this.route(manager, referral, cause, traceparent);
        return;
      }
    }
  }

  /** Mirrors the CBO Task of a locked referral, or re-routes it after a rejection. */
  private async cboTaskChanged(
    manager: EntityManager,
    referral: Referral,
    facts: CboTaskFacts,
    traceparent?: string,
  ): Promise<boolean> {
    const outcome = onCboTaskChanged(snapshotOf(referral), facts);
    if (outcome === 'reroute') {
      await this.route(manager, referral, rejectionCause(snapshotOf(referral), facts), traceparent);
      return true;
    }
    if (outcome.events.length === 0 && outcome.commands.length === 0) return false;
    await this.apply(manager, referral, outcome, traceparent);
    return true;
  }

  private async gateOnConsent(
    manager: EntityManager,
    referral: Referral,
    traceparent?: string,
  ): Promise<void> {
    const coverage = referral.patientId
      ? await this.consents.coverage(manager, referral.patientId)
      : { networkWide: false, organizationIds: [] };
    const outcome = onConsentKnown(snapshotOf(referral), coversAnyone(coverage));
    if (outcome === 'route') await this.route(manager, referral, undefined, traceparent, coverage);
    else await this.apply(manager, referral, outcome, traceparent);
  }

  private async route(
    manager: EntityManager,
    referral: Referral,
    cause: RerouteCause | undefined,
    traceparent?: string,
    knownCoverage?: ConsentCoverage,
  ): Promise<void> {
    const coverage =
      knownCoverage ??
      (referral.patientId
        ? await this.consents.coverage(manager, referral.patientId)
        : { networkWide: false, organizationIds: [] });
    const directory = await this.directory.snapshot(manager);
    const need = (referral.need ?? { categories: [] }) as unknown as ReferralNeed;
    const ranked = rankServices(
      { ...need, excludeOrganizationIds: referral.triedOrganizationIds },
      directory.services,
      { organizations: directory.organizations, locations: directory.locations, limit: 10 },
    ).filter((candidate) => coversOrganization(coverage, candidate.organizationId));
    const decision = decideRoute(snapshotOf(referral), ranked, this.policy, cause);
    const chosen = ranked.find((c) => c.organizationId === decision.patch.targetOrganizationId);
    if (chosen) {
      referral.targetServiceId = chosen.serviceId;
      referral.explanation = {
        chosen: {
          serviceId: chosen.serviceId,
          organizationId: chosen.organizationId,
          score: chosen.score,
          ...chosen.explanation,
        },
        alternatives: ranked
          .filter((c) => c !== chosen)
          .slice(0, 4)
          .map((c) => ({
            serviceId: c.serviceId,
            organizationId: c.organizationId,
            score: c.score,
          })),
      };
    }
    await this.apply(manager, referral, decision, traceparent);
  }

  /**
   * Records a decision: the referral's new state at once, and — when it has FHIR writes to make —
   * a step carried out after commit, which announces the events once the writes are done.
   */
  private async apply(
    manager: EntityManager,
    referral: Referral,
    decision: Decision,
    traceparent?: string,
  ) {
    if (decision.events.length === 0 && decision.commands.length === 0) return;
    const moved = decision.state !== referral.state;
    Object.assign(referral, decision.patch);
    referral.state = decision.state;
    // A reason explains the state it came with: a move that gives none leaves none behind.
    referral.reason = decision.events.at(-1)?.reason ?? (moved ? null : referral.reason);
    if (decision.commands.length > 0) {
      referral.pending = {
        id: randomUUID(),
        commands: decision.commands,
        events: decision.events,
        traceparent,
        attempts: 0,
      };
      referral.pendingDue = new Date();
    }
    await this.steps.save(manager, referral);
    if (decision.commands.length === 0)
      await this.emit(manager, referral, decision.events, traceparent);
  }

  private async emit(
    manager: EntityManager,
    referral: Referral,
    events: Decision['events'],
    traceparent?: string,
  ): Promise<void> {
    for (const event of events) {
      const data: ReferralEventV1 = {
        referralId: referral.id,
        state: event.state,
        occurredAt: new Date().toISOString(),
        sourceTaskId: referral.id,
        requesterOrganizationId: referral.requesterOrganizationId ?? undefined,
        targetOrganizationId: event.organizationId ?? referral.targetOrganizationId ?? undefined,
        cboTaskId: referral.cboTaskId ?? undefined,
        patientId: referral.patientId ?? undefined,
        reason: event.reason,
        attempt: referral.attempt,
        explanation: event.state === 'routed' ? (referral.explanation ?? undefined) : undefined,
      };
      await this.outbox.append(manager, ReferralEventTypes[event.state as ReferralState], data, {
        subject: referral.id,
        traceparent,
      });
    }
  }

  private needOf(source: SourceContext): ReferralNeed & { notes?: string[] } {
    if (!source.serviceRequest)
      return { categories: [], notes: ['the Task has no ServiceRequest focus'] };
    const derived = deriveReferralNeed({
      serviceRequest: source.serviceRequest as DeriveNeedInput['serviceRequest'],
      patient: source.patient as DeriveNeedInput['patient'],
    });
    return { ...derived.need, notes: derived.notes };
  }

  /** Serializes the transactions that create a referral with those that look for it. */
  private async lockReferralId(manager: EntityManager, referralId: string): Promise<void> {
    const schema = manager.getRepository(Referral).metadata.schema;
    await manager.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
      `${schema}:referral:${referralId}`,
    ]);
  }

  private lock(manager: EntityManager, id: string): Promise<Referral | null> {
    return this.lockBy(manager, 'id', id);
  }

  private async lockBy(
    manager: EntityManager,
    column: 'id' | 'cbo_task_id',
    value: string,
  ): Promise<Referral | null> {
    return manager
      .getRepository(Referral)
      .createQueryBuilder('referral')
      .where(`referral.${column} = :value`, { value })
      .setLock('pessimistic_write')
      .getOne();
  }

  private async lockOpenForPatient(manager: EntityManager, patientId: string): Promise<Referral[]> {
    const referrals = await manager
      .getRepository(Referral)
      .createQueryBuilder('referral')
      .where('referral.patient_id = :patientId', { patientId })
      .orderBy('referral.created_at')
      .setLock('pessimistic_write')
      .getMany();
    return referrals.filter((referral) => isOpen(referral.state));
  }
}
