import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { ReferralEventTypes, ReferralEventV1, ReferralState } from '@carerelay/contracts';
import {
  DeriveNeedInput,
  ReferralNeed,
  deriveReferralNeed,
  rankServices,
} from '@carerelay/directory';
import { FhirRequestError } from '@carerelay/fhir-client';
import { OutboxWriter } from '@carerelay/messaging';
import {
  ConsentCoverage,
  ConsentView,
  coversAnyone,
  coversOrganization,
} from '../consent-view/consent-view';
import { DirectoryView } from '../directory-view/directory-view';
import {
  ReferralFhirGateway,
  SourceContext,
  sourceTaskIdOfCboTask,
} from '../fhir/referral-fhir.gateway';
import { Referral } from './referral.entity';
import { NewReferral } from './referral-intake.rules';
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

export interface ChangedTask {
  id: string;
  status?: string;
  statusReason?: { text?: string };
  identifier?: Array<{ system?: string }>;
  partOf?: Array<{ reference?: string }>;
}

/** What the reconciliation found out of step, and where the referral stands after the repair. */
export interface Repair {
  kind: 'cbo-task' | 'consent';
  from: ReferralState;
  to: ReferralState;
}

const factsOf = (task: ChangedTask): CboTaskFacts => ({
  taskId: task.id,
  status: task.status ?? '',
  statusReason: task.statusReason?.text,
});

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

/**
 * Carries out the workflow's decisions: FHIR writes through the FHIR API (idempotent), then the
 * referral row and its events in the caller's transaction (the consumer's inbox transaction).
 * Every entry point locks the referral row first, so the events of one referral — which arrive on
 * several topics and partitions — are applied one at a time.
 */
@Injectable()
export class ReferralWorkflowService {
  constructor(
    private readonly outbox: OutboxWriter,
    private readonly directory: DirectoryView,
    private readonly consents: ConsentView,
    @Inject(REFERRAL_FHIR_GATEWAY) private readonly fhir: ReferralFhirGateway,
    @Inject(ROUTING_POLICY) private readonly policy: RoutingPolicy,
  ) {}

  async intake(manager: EntityManager, intake: NewReferral, traceparent?: string): Promise<void> {
    const schema = manager.getRepository(Referral).metadata.schema;
    // Held until commit: a change of the CBO Task this intake creates waits for the referral row
    // instead of finding none (the row is invisible to others until then).
    await this.lockReferralId(manager, intake.taskId);
    const known = await manager.query(`SELECT 1 FROM "${schema}".referral WHERE id = $1`, [
      intake.taskId,
    ]);
    if (known.length > 0) return;
    let source: SourceContext;
    try {
      source = await this.fhir.sourceContext(intake.taskId);
    } catch (error) {
      // A change event for a Task the FHIR API no longer has (or never had): nothing to route.
      if (error instanceof FhirRequestError && (error.status === 404 || error.status === 410))
        return;
      throw error;
    }
    // Before the referral row exists for others: a consent event of this patient either
    // committed before (coverage sees it) or waits and then finds the referral.
    if (intake.patientId) await this.consents.lockPatient(manager, intake.patientId);
    const inserted = await manager.query(
      `INSERT INTO "${schema}".referral
         (id, source_task_version, requester_organization_id, patient_id, service_request_id, state, need)
       VALUES ($1, $2, $3, $4, $5, 'requested', $6) ON CONFLICT (id) DO NOTHING RETURNING id`,
      [
        intake.taskId,
        intake.taskVersion,
        intake.requesterOrganizationId ?? null,
        intake.patientId ?? null,
        intake.serviceRequestId ?? null,
        JSON.stringify(this.needOf(source)),
      ],
    );
    if (inserted.length === 0) return;
    const referral = await this.lock(manager, intake.taskId);
    if (!referral) return;
    await this.emit(manager, referral, [{ state: 'requested' }], traceparent);
    await this.gateOnConsent(manager, referral, traceparent);
  }

  async consentGranted(
    manager: EntityManager,
    patientId: string,
    traceparent?: string,
  ): Promise<void> {
    for (const referral of await this.lockOpenForPatient(manager, patientId)) {
      if (referral.state === 'awaiting-consent')
        await this.gateOnConsent(manager, referral, traceparent);
    }
  }

  async consentRevoked(
    manager: EntityManager,
    patientId: string,
    organizationId: string | null,
    traceparent?: string,
  ): Promise<void> {
    for (const referral of await this.lockOpenForPatient(manager, patientId)) {
      const coverage = await this.consents.coverage(manager, patientId);
      // Another consent still covering the target keeps the referral where it is.
      if (
        referral.targetOrganizationId &&
        coversOrganization(coverage, referral.targetOrganizationId)
      )
        continue;
      const decision = onConsentRevoked(
        snapshotOf(referral),
        organizationId ?? referral.targetOrganizationId,
      );
      await this.apply(manager, referral, decision, traceparent);
    }
  }

  async taskChanged(
    manager: EntityManager,
    task: ChangedTask,
    traceparent?: string,
  ): Promise<void> {
    const sourceId = sourceTaskIdOfCboTask(task);
    if (sourceId) {
      // By the source id, not by cbo_task_id: a referral whose routing to this Task has not
      // committed yet is locked (or, while taken in, advisory-locked) by the routing transaction,
      // so this waits for it and then sees the Task id; a lookup by cbo_task_id would find
      // nothing and drop the change for good.
      await this.lockReferralId(manager, sourceId);
      const referral = await this.lock(manager, sourceId);
      if (referral?.cboTaskId === task.id)
        await this.cboTaskChanged(manager, referral, factsOf(task), traceparent);
      return;
    }
    const cboReferral = await this.lockBy(manager, 'cbo_task_id', task.id);
    if (cboReferral) {
      await this.cboTaskChanged(manager, cboReferral, factsOf(task), traceparent);
      return;
    }
    if (task.status === 'cancelled') {
      const source = await this.lock(manager, task.id);
      if (source)
        await this.apply(
          manager,
          source,
          onSourceCancelled(snapshotOf(source), task.statusReason?.text),
          traceparent,
        );
    }
  }

  /** Mirrors the CBO Task of a locked referral, or re-routes it after a rejection. */
  async cboTaskChanged(
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

  /**
   * Compares one referral with what its CBO Task and the patient's consents say now, and moves it
   * through the normal workflow where it lags behind; returns the repair made, if any.
   */
  async reconcile(manager: EntityManager, referralId: string): Promise<Repair | undefined> {
    await this.lockReferralId(manager, referralId);
    const referral = await this.lock(manager, referralId);
    if (!referral || !isOpen(referral.state)) return undefined;
    const from = referral.state;
    if (referral.state === 'awaiting-consent') {
      await this.gateOnConsent(manager, referral);
      return referral.state === from ? undefined : { kind: 'consent', from, to: referral.state };
    }
    if (!referral.cboTaskId) return undefined;
    let task: Omit<ChangedTask, 'id'> & { resourceType?: string };
    try {
      task = await this.fhir.readTask(referral.cboTaskId);
    } catch (error) {
      if (error instanceof FhirRequestError && (error.status === 404 || error.status === 410))
        return undefined;
      throw error;
    }
    const moved = await this.cboTaskChanged(
      manager,
      referral,
      factsOf({ ...task, id: referral.cboTaskId }),
    );
    return moved ? { kind: 'cbo-task', from, to: referral.state } : undefined;
  }

  async acceptanceBreached(
    manager: EntityManager,
    referralId: string,
    attempt: number,
    traceparent?: string,
  ) {
    const referral = await this.lock(manager, referralId);
    if (!referral) return;
    const cause = acceptanceBreachCause(snapshotOf(referral), attempt);
    if (cause) await this.route(manager, referral, cause, traceparent);
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
    const directory = await this.directory.snapshot();
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

  private async apply(
    manager: EntityManager,
    referral: Referral,
    decision: Decision,
    traceparent?: string,
  ) {
    if (decision.events.length === 0 && decision.commands.length === 0) return;
    Object.assign(referral, decision.patch);
    let foundCboTask = false;
    for (const command of decision.commands) {
      switch (command.kind) {
        case 'create-cbo-task': {
          const source = await this.fhir.sourceContext(referral.id);
          const created = await this.fhir.createCboTask({
            referralId: referral.id,
            attempt: command.attempt,
            organizationId: command.organizationId,
            source,
          });
          referral.cboTaskId = created.taskId;
          referral.cboServiceRequestId = created.serviceRequestId;
          referral.targetServiceId = command.serviceId;
          foundCboTask = created.alreadyExisted;
          break;
        }
        case 'cancel-cbo-task':
          await this.fhir.cancelCboTask(command.cboTaskId, command.reason);
          break;
        case 'update-source-task': {
          const output =
            command.copyOutputFromCboTask && referral.cboTaskId
              ? (await this.fhir.readTask(referral.cboTaskId)).output
              : undefined;
          await this.fhir.updateSourceTask(referral.id, {
            status: command.status,
            statusReason: command.statusReason,
            businessStatus: command.businessStatus,
            output,
          });
          break;
        }
        case 'complete-source-service-request':
          if (referral.serviceRequestId)
            await this.fhir.completeServiceRequest(referral.serviceRequestId);
          break;
      }
    }
    referral.state = decision.state;
    referral.reason = decision.events.at(-1)?.reason ?? referral.reason;
    await manager.getRepository(Referral).save(referral);
    await this.emit(manager, referral, decision.events, traceparent);
    if (foundCboTask && referral.cboTaskId) {
      // An earlier attempt of this routing made the Task and rolled back; the CBO may have acted
      // on it meanwhile, and those changes found no referral to move. Catch up with it now.
      const task = await this.fhir.readTask(referral.cboTaskId);
      await this.cboTaskChanged(
        manager,
        referral,
        factsOf({ ...task, id: referral.cboTaskId }),
        traceparent,
      );
    }
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
