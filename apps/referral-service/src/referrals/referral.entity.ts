import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { ReferralState } from '@carerelay/contracts';

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

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
