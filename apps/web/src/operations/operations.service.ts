import { HttpException, Injectable, NotFoundException } from '@nestjs/common';
import type { SessionUser } from '../accounts/account.model';
import { OperatorActionsRepository } from '../platform/operator-actions.repository';
import { ServiceCallError, ServicesGateway } from '../platform/services.gateway';
import { FhirGateway } from '../referrals/fhir.gateway';
import type { CapacityChangeDto } from './operations.dto';

interface DirectoryService {
  id: string;
  organizationId: string;
  name: string;
  status: string;
  categories: string[];
  capacity?: {
    status: string;
    available?: number;
    unit?: string;
    updatedAt?: string;
    notes?: string;
  };
}
interface DirectoryOrganization {
  id: string;
  name: string;
}
interface ParkedDelivery {
  id: string;
  taskId: string;
  task?: { status?: string };
  changedAt: string;
  attempts: number;
  lastError?: string;
  endpointId: string;
  state: string;
}

const unavailable =
  (what: string) =>
  (error: unknown): never => {
    if (error instanceof ServiceCallError && error.status === 404)
      throw new NotFoundException(`${what} was not found`);
    if (error instanceof ServiceCallError)
      throw new HttpException(
        `The ${what} service is not answering right now: try again in a moment`,
        502,
      );
    throw error;
  };

/** What CBO admins and coordinators do with the directory and the EHR connector. */
@Injectable()
export class OperationsService {
  constructor(
    private readonly services: ServicesGateway,
    private readonly fhir: FhirGateway,
    private readonly actions: OperatorActionsRepository,
  ) {}

  private asOrganization(user: SessionUser) {
    return () => this.fhir.tokenFor(user);
  }

  /** The directory's services of one organization, read with the person's organization's token. */
  async servicesOf(user: SessionUser, organizationId: string) {
    const services = await this.services
      .request<DirectoryService[]>(
        'directory',
        'GET',
        `services?organizationId=${encodeURIComponent(organizationId)}`,
        undefined,
        this.asOrganization(user),
      )
      .catch(unavailable('directory'));
    return services.map(serviceView);
  }

  /**
   * A capacity change of one of the person's organization's services, written to the directory
   * (as the platform: its writes admit no CBO), which announces it to routing. Undefined when the
   * service is not the organization's.
   */
  async changeCapacity(user: SessionUser, serviceId: string, change: CapacityChangeDto) {
    const own = (await this.servicesOf(user, user.organizationId)).some((s) => s.id === serviceId);
    if (!own) return undefined;
    const updated = await this.services
      .request<DirectoryService>(
        'directory',
        'PATCH',
        `services/${encodeURIComponent(serviceId)}/capacity`,
        {
          status: change.status,
          ...(change.available !== undefined ? { available: change.available } : {}),
          ...(change.notes?.trim() ? { notes: change.notes.trim() } : {}),
        },
      )
      .catch(unavailable('directory'));
    await this.actions.record({
      username: user.username,
      organizationId: user.organizationId,
      action: 'capacity-change',
      target: `service/${serviceId}`,
      detail: { status: change.status, available: change.available ?? null },
    });
    return serviceView(updated);
  }

  /** Every service of the directory with its organization's name and capacity. */
  async directory(user: SessionUser) {
    const [services, organizations] = await Promise.all([
      this.services
        .request<DirectoryService[]>(
          'directory',
          'GET',
          'services',
          undefined,
          this.asOrganization(user),
        )
        .catch(unavailable('directory')),
      this.services
        .request<DirectoryOrganization[]>(
          'directory',
          'GET',
          'organizations',
          undefined,
          this.asOrganization(user),
        )
        .catch(unavailable('directory')),
    ]);
    const names = new Map(organizations.map((o) => [o.id, o.name]));
    return services
      .map((s) => ({
        ...serviceView(s),
        organization: names.get(s.organizationId) ?? s.organizationId,
      }))
      .sort((a, b) => a.organization.localeCompare(b.organization) || a.name.localeCompare(b.name));
  }

  /** Parked EHR updates: which Task, which status, how often tried, the last error; no Task body. */
  async parked() {
    const deliveries = await this.services
      .request<ParkedDelivery[]>('ehr-connector', 'GET', 'push/deliveries?state=parked')
      .catch(unavailable('EHR connector'));
    return Promise.all(
      deliveries.map(async (d) => ({
        id: d.id,
        taskId: d.taskId,
        status: d.task?.status,
        changedAt: d.changedAt,
        attempts: d.attempts,
        lastError: d.lastError?.slice(0, 200),
        endpointId: d.endpointId,
        lastReplay: await this.actions.latest('ehr-replay', `delivery/${d.id}`),
      })),
    );
  }

  /** Replays a parked update (as the platform: the connector admits operators only) and records who. */
  async replay(user: SessionUser, id: string) {
    const delivery = await this.services
      .request<ParkedDelivery>('ehr-connector', 'POST', `push/deliveries/${id}/replay`)
      .catch(unavailable('EHR connector'));
    await this.actions.record({
      username: user.username,
      organizationId: user.organizationId,
      action: 'ehr-replay',
      target: `delivery/${id}`,
      detail: { taskId: delivery.taskId },
    });
    return { id: delivery.id, taskId: delivery.taskId, state: delivery.state };
  }
}

function serviceView(s: DirectoryService) {
  return {
    id: s.id,
    organizationId: s.organizationId,
    name: s.name,
    status: s.status,
    categories: s.categories ?? [],
    capacity: s.capacity
      ? {
          status: s.capacity.status,
          available: s.capacity.available,
          unit: s.capacity.unit,
          updatedAt: s.capacity.updatedAt,
          notes: s.capacity.notes,
        }
      : undefined,
  };
}
