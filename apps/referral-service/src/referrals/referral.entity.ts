import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { ReferralState } from '@carerelay/contracts';
import type { SourceContext } from '../fhir/referral-fhir.gateway';
import type { PendingStep } from './referral-step';

/** The platform's view of one referral: the source Task an EHR sent and where it stands. */
@Entity({ name: 'referral' })
export class Referral {
  /** The source Task's id in the FHIR API: stable, and the key of every referral event. */
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ name: 'source_task_version', type: 'text' })
  sourceTaskVersion!: string;

  @Column({ name: 'requester_organization_id', type: 'text', nullable: true })
  requesterOrganizationId!: string | null;

  @Column({ name: 'patient_id', type: 'text', nullable: true })
  patientId!: string | null;

  @Column({ name: 'service_request_id', type: 'text', nullable: true })
  serviceRequestId!: string | null;

  @Column({ type: 'text' })
  state!: ReferralState;

  @Column({ type: 'integer', default: 0 })
  attempt!: number;

  @Column({ name: 'target_organization_id', type: 'text', nullable: true })
  targetOrganizationId!: string | null;

  @Column({ name: 'target_service_id', type: 'text', nullable: true })
  targetServiceId!: string | null;

  @Column({ name: 'cbo_task_id', type: 'text', nullable: true })
  cboTaskId!: string | null;

  @Column({ name: 'cbo_service_request_id', type: 'text', nullable: true })
  cboServiceRequestId!: string | null;

  @Column({ name: 'tried_organization_ids', type: 'text', array: true, default: () => "'{}'" })
  triedOrganizationIds!: string[];

  /** What the referral asks for, derived once from its ServiceRequest and Patient. */
  @Column({ type: 'jsonb', nullable: true })
  need!: Record<string, unknown> | null;

  /** Why the current target was chosen: the ranking with its factors. */
  @Column({ type: 'jsonb', nullable: true })
  explanation!: Record<string, unknown> | null;

  @Column({ type: 'text', nullable: true })
  reason!: string | null;

  /** The step decided and not yet carried out (see referral-step.ts), if any. */
  @Column({ type: 'jsonb', nullable: true })
  pending!: PendingStep | null;

  @Column({ name: 'pending_due', type: 'timestamptz', nullable: true })
  pendingDue!: Date | null;

  /** What the CBO Tasks are made from, read once at intake (no patient data). */
  @Column({ type: 'jsonb', nullable: true })
  source!: SourceContext | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
