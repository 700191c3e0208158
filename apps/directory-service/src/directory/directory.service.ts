import {
  BadRequestException,
  ConflictException,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { DirectoryEventV1, EventTypeDefinition, EventTypes } from '@carerelay/contracts';
import type { Directory, Location, Organization, Service } from '@carerelay/directory';
import { OutboxWriter } from '@carerelay/messaging';
import type { CapacityDto, LocationDto, OrganizationDto, ServiceDto } from '../http/directory.dto';
import { validationException } from '@carerelay/http';
import { DirectoryStore, WriteOutcome, Written } from './directory.store';
import { sameCapacity, toCapacity, toLocation, toOrganization, toService } from './dto-to-model';

export type Kind = 'organization' | 'location' | 'service';

export interface Counts {
  created: number;
  updated: number;
  unchanged: number;
}

export interface DirectoryWriteSummary {
  organizations: Counts;
  locations: Counts;
  services: Counts;
  /** Events written to the outbox (published on directory.events.v1 after commit). */
  events: number;
}

/** A problem with one entry of a directory being written as a whole (an import). */
export interface EntryProblem {
  kind: Kind;
  id: string;
  field?: string;
  message: string;
}

export class DirectoryConsistencyError extends Error {
  constructor(readonly problems: EntryProblem[]) {
    super(problems.map((p) => `${p.kind} "${p.id}": ${p.message}`).join('; '));
    this.name = 'DirectoryConsistencyError';
  }
}

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
/** The CloudEvents subject of a directory event: the entry it is about. */
const SUBJECT_TYPE: Readonly<Record<string, string>> = {
  [EventTypes.directoryOrganizationUpserted.type]: 'Organization',
  [EventTypes.directoryLocationUpserted.type]: 'Location',
  [EventTypes.directoryServiceUpserted.type]: 'Service',
  [EventTypes.directoryCapacityChanged.type]: 'Service',
};

const counts = (): Counts => ({ created: 0, updated: 0, unchanged: 0 });

/**
 * The directory's writes: every change stores the row and appends the directory event that
 * announces it to the outbox, in one transaction. A write that changes nothing announces nothing.
 */
@Injectable()
export class DirectoryService {
  constructor(
    private readonly store: DirectoryStore,
    private readonly outbox: OutboxWriter,
  ) {}

  private transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.store.dataSource.transaction(work);
  }

  private announce(
    manager: EntityManager,
    definition: EventTypeDefinition<DirectoryEventV1>,
    record: Organization | Location | Service,
    organizationId: string,
    occurredAt: string,
    serviceId?: string,
  ) {
    return this.outbox.append(
      manager,
      definition,
      {
        organizationId,
        occurredAt,
        ...(serviceId ? { serviceId } : {}),
        record: record as unknown as Record<string, unknown>,
      },
      { subject: `${SUBJECT_TYPE[definition.type] ?? 'Service'}/${record.id}` },
    );
  }

  private async announceWrite(
    manager: EntityManager,
    kind: Kind,
    record: Organization | Location | Service,
    written: Written,
  ): Promise<boolean> {
    if (written.outcome === 'unchanged') return false;
    if (kind === 'organization') {
      await this.announce(
        manager,
        EventTypes.directoryOrganizationUpserted,
        record,
        record.id,
        written.occurredAt,
      );
    } else if (kind === 'location') {
      await this.announce(
        manager,
        EventTypes.directoryLocationUpserted,
        record,
        (record as Location).organizationId,
        written.occurredAt,
      );
    } else {
      await this.announce(
        manager,
        EventTypes.directoryServiceUpserted,
        record,
        (record as Service).organizationId,
        written.occurredAt,
        record.id,
      );
    }
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // Organizations

  async createOrganization(dto: OrganizationDto): Promise<Organization> {
    const org = toOrganization(dto, dto.id ?? randomUUID());
    return this.transaction(async (manager) => {
      if (await this.store.organization(org.id, manager, true)) {
        throw new ConflictException(
          `organization ${org.id} exists already: PUT /organizations/${org.id} replaces it`,
        );
      }
      const written = await this.store.writeOrganization(manager, org, new Date());
      await this.announceWrite(manager, 'organization', org, written);
      return org;
    });
  }

  async putOrganization(
    id: string,
    dto: OrganizationDto,
  ): Promise<{ record: Organization; outcome: WriteOutcome }> {
    sameId(id, dto.id);
    const org = toOrganization(dto, id);
    return this.transaction(async (manager) => {
      const written = await this.store.writeOrganization(manager, org, new Date());
      await this.announceWrite(manager, 'organization', org, written);
      return { record: org, outcome: written.outcome };
    });
  }

  /**
   * Directory events have no deletion: a deleted organization is retired here (hidden from
   * listings) and each of its active services is announced inactive, so no one routes to it.
   */
  async deleteOrganization(
    id: string,
  ): Promise<{ organization: Organization; deactivatedServices: string[] }> {
    return this.transaction(async (manager) => {
      const existing = await this.store.organization(id, manager, true);
      if (!existing) throw new NotFoundException(`organization ${id} is not in the directory`);
      const now = new Date();
      const deactivated: string[] = [];
      for (const service of await this.store.services(
        { organizationId: id, status: 'active' },
        manager,
      )) {
        const inactive: Service = { ...service, status: 'inactive' };
        const written = await this.store.writeService(manager, inactive, now);
        if (await this.announceWrite(manager, 'service', inactive, written)) {
          deactivated.push(service.id);
        }
      }
      await this.store.retireOrganization(manager, id, now);
      return { organization: existing.record, deactivatedServices: deactivated };
    });
  }

  // ------------------------------------------------------------------------------------------
  // Locations

  async createLocation(dto: LocationDto): Promise<Location> {
    const location = toLocation(dto, dto.id ?? randomUUID());
    return this.transaction(async (manager) => {
      if (await this.store.location(location.id, manager, true)) {
        throw new ConflictException(
          `location ${location.id} exists already: PUT /locations/${location.id} replaces it`,
        );
      }
      await this.checkOrganization(manager, location.organizationId);
      const written = await this.store.writeLocation(manager, location, new Date());
      await this.announceWrite(manager, 'location', location, written);
      return location;
    });
  }

  async putLocation(
    id: string,
    dto: LocationDto,
  ): Promise<{ record: Location; outcome: WriteOutcome }> {
    sameId(id, dto.id);
    const location = toLocation(dto, id);
    return this.transaction(async (manager) => {
      const existing = await this.store.location(id, manager, true);
      if (existing && existing.record.organizationId !== location.organizationId) {
        throw new ConflictException(
          `location ${id} belongs to organization ${existing.record.organizationId}; its organizationId cannot change`,
        );
      }
      await this.checkOrganization(manager, location.organizationId);
      const written = await this.store.writeLocation(manager, location, new Date());
      await this.announceWrite(manager, 'location', location, written);
      return { record: location, outcome: written.outcome };
    });
  }

  /** Only a location no service uses; directory events have no deletion, so none is announced. */
  async deleteLocation(id: string): Promise<Location> {
    return this.transaction(async (manager) => {
      const existing = await this.store.location(id, manager, true);
      if (!existing) throw new NotFoundException(`location ${id} is not in the directory`);
      const users = await this.store.servicesUsingLocation(id, manager);
      if (users.length > 0) {
        throw new ConflictException(
          `location ${id} is used by service${users.length > 1 ? 's' : ''} ${users.join(', ')}`,
        );
      }
      await this.store.deleteLocation(manager, id);
      return existing.record;
    });
  }

  // ------------------------------------------------------------------------------------------
  // Services

  async createService(dto: ServiceDto): Promise<Service> {
    const service = toService(dto, dto.id ?? randomUUID(), new Date());
    return this.transaction(async (manager) => {
      if (await this.store.service(service.id, manager, true)) {
        throw new ConflictException(
          `service ${service.id} exists already: PUT /services/${service.id} replaces it`,
        );
      }
      await this.checkServiceReferences(manager, service);
      const written = await this.store.writeService(manager, service, new Date());
      await this.announceWrite(manager, 'service', service, written);
      return service;
    });
  }

  async putService(
    id: string,
    dto: ServiceDto,
  ): Promise<{ record: Service; outcome: WriteOutcome }> {
    sameId(id, dto.id);
    return this.transaction(async (manager) => {
      const existing = await this.store.service(id, manager, true);
      if (existing && existing.record.organizationId !== dto.organizationId) {
        throw new ConflictException(
          `service ${id} belongs to organization ${existing.record.organizationId}; its organizationId cannot change`,
        );
      }
      const now = new Date();
      const service = toService(dto, id, now);
      // A replacement that leaves the capacity as it was keeps the time it was last updated.
      if (
        existing &&
        !dto.capacity?.updatedAt &&
        sameCapacity(existing.record.capacity, service.capacity)
      ) {
        service.capacity = existing.record.capacity;
      }
      await this.checkServiceReferences(manager, service);
      const written = await this.store.writeService(manager, service, now);
      await this.announceWrite(manager, 'service', service, written);
      return { record: service, outcome: written.outcome };
    });
  }

  /** The capacity alone, announced as directory.capacity-changed with the whole Service record. */
  async changeCapacity(
    id: string,
    dto: CapacityDto,
  ): Promise<{ record: Service; outcome: WriteOutcome }> {
    return this.transaction(async (manager) => {
      const existing = await this.store.service(id, manager, true);
      if (!existing) throw new NotFoundException(`service ${id} is not in the directory`);
      const now = new Date();
      const capacity = toCapacity(dto, now);
      if (!dto.updatedAt && sameCapacity(existing.record.capacity, capacity)) {
        return { record: existing.record, outcome: 'unchanged' as const };
      }
      const service: Service = { ...existing.record, capacity };
      const written = await this.store.writeService(manager, service, now);
      if (written.outcome !== 'unchanged') {
        await this.announce(
          manager,
          EventTypes.directoryCapacityChanged,
          service,
          service.organizationId,
          written.occurredAt,
          service.id,
        );
      }
      return { record: service, outcome: written.outcome };
    });
  }

  /** Directory events have no deletion: the service is announced inactive (no longer routed to). */
  async deleteService(id: string): Promise<{ record: Service; outcome: WriteOutcome }> {
    return this.transaction(async (manager) => {
      const existing = await this.store.service(id, manager, true);
      if (!existing) throw new NotFoundException(`service ${id} is not in the directory`);
      const service: Service = { ...existing.record, status: 'inactive' };
      const written = await this.store.writeService(manager, service, new Date());
      await this.announceWrite(manager, 'service', service, written);
      return { record: service, outcome: written.outcome };
    });
  }

  // ------------------------------------------------------------------------------------------
  // A whole directory (an HSDS import, the sample), all or nothing

  /**
   * Stores every entry of `directory` and announces each new or changed one, in one transaction:
   * organizations first, then locations, then services (their events in that order, keyed by
   * organization). Throws a DirectoryConsistencyError, writing nothing, when an entry can't be
   * stored as given.
   */
  async writeDirectory(
    directory: Directory,
    options: { manager?: EntityManager } = {},
  ): Promise<DirectoryWriteSummary> {
    const work = async (manager: EntityManager): Promise<DirectoryWriteSummary> => {
      await this.store.lockDirectory(manager);
      await this.checkDirectory(manager, directory);
      const now = new Date();
      const summary: DirectoryWriteSummary = {
        organizations: counts(),
        locations: counts(),
        services: counts(),
        events: 0,
      };
      const write = async <T extends Organization | Location | Service>(
        kind: Kind,
        records: T[],
        tally: Counts,
        store: (manager: EntityManager, record: T, now: Date) => Promise<Written>,
      ) => {
        for (const record of records) {
          const written = await store(manager, record, now);
          tally[written.outcome]++;
          if (await this.announceWrite(manager, kind, record, written)) summary.events++;
        }
      };
      await write('organization', directory.organizations, summary.organizations, (m, r, n) =>
        this.store.writeOrganization(m, r, n),
      );
      await write('location', directory.locations, summary.locations, (m, r, n) =>
        this.store.writeLocation(m, r, n),
      );
      await write('service', directory.services, summary.services, (m, r, n) =>
        this.store.writeService(m, r, n),
      );
      return summary;
    };
    return options.manager ? work(options.manager) : this.transaction(work);
  }

  /** Re-announces every entry as it is now, so a new consumer can build its view from scratch. */
  async republish(): Promise<{
    organizations: number;
    locations: number;
    services: number;
    events: number;
  }> {
    return this.transaction(async (manager) => {
      const all = await this.store.everything(manager);
      for (const e of all.organizations) {
        await this.announce(
          manager,
          EventTypes.directoryOrganizationUpserted,
          e.record,
          e.record.id,
          e.updatedAt,
        );
      }
      for (const e of all.locations) {
        await this.announce(
          manager,
          EventTypes.directoryLocationUpserted,
          e.record,
          e.record.organizationId,
          e.updatedAt,
        );
      }
      for (const e of all.services) {
        await this.announce(
          manager,
          EventTypes.directoryServiceUpserted,
          e.record,
          e.record.organizationId,
          e.updatedAt,
          e.record.id,
        );
      }
      return {
        organizations: all.organizations.length,
        locations: all.locations.length,
        services: all.services.length,
        events: all.organizations.length + all.locations.length + all.services.length,
      };
    });
  }

  // ------------------------------------------------------------------------------------------
  // Checks

  private async checkOrganization(manager: EntityManager, organizationId: string): Promise<void> {
    const org = await this.store.organization(organizationId, manager);
    if (!org || org.retired) {
      throw validationException([
        {
          field: 'organizationId',
          message: `organizationId: organization ${organizationId} is not in the directory${org?.retired ? ' (deleted)' : ''}`,
        },
      ]);
    }
  }

  private async checkServiceReferences(manager: EntityManager, service: Service): Promise<void> {
    await this.checkOrganization(manager, service.organizationId);
    const referenced = [
      ...service.locationIds.map((id, i) => ({ id, field: `locationIds[${i}]` })),
      ...service.serviceAreas.flatMap((area, i) =>
        area.kind === 'radius' && area.locationId
          ? [{ id: area.locationId, field: `serviceAreas[${i}].locationId` }]
          : [],
      ),
    ];
    const owners = await this.store.locationOwners(
      referenced.map((r) => r.id),
      manager,
    );
    const problems = referenced.flatMap(({ id, field }) => {
      const owner = owners.get(id);
      if (owner === undefined)
        return [{ field, message: `${field}: location ${id} is not in the directory` }];
      if (owner !== service.organizationId)
        return [{ field, message: `${field}: location ${id} belongs to organization ${owner}` }];
      return [];
    });
    if (problems.length > 0) throw validationException(problems);
  }

  /** What an import would break: invalid ids, entries moving between organizations, dangling references. */
  private async checkDirectory(manager: EntityManager, directory: Directory): Promise<void> {
    const problems: EntryProblem[] = [];
    const all: Array<[Kind, Organization | Location | Service]> = [
      ...directory.organizations.map((o) => ['organization', o] as [Kind, Organization]),
      ...directory.locations.map((l) => ['location', l] as [Kind, Location]),
      ...directory.services.map((s) => ['service', s] as [Kind, Service]),
    ];
    for (const [kind, record] of all) {
      if (!FHIR_ID.test(record.id)) {
        problems.push({
          kind,
          id: record.id,
          field: 'id',
          message: "the id must be 1 to 64 letters, digits, '-' or '.' (it becomes a FHIR id)",
        });
      }
    }
    const orgIds = new Set(directory.organizations.map((o) => o.id));
    const missingOrgs = [
      ...directory.locations.map((l) => l.organizationId),
      ...directory.services.map((s) => s.organizationId),
    ].filter((id) => !orgIds.has(id));
    const knownOrgs = new Set<string>();
    for (const id of new Set(missingOrgs)) {
      if (await this.store.organization(id, manager)) knownOrgs.add(id);
    }
    const locationOwner = new Map(directory.locations.map((l) => [l.id, l.organizationId]));
    const stored = await this.store.locationOwners(
      [
        ...directory.locations.map((l) => l.id),
        ...directory.services.flatMap((s) => s.locationIds),
      ],
      manager,
    );
    for (const l of directory.locations) {
      const owner = stored.get(l.id);
      if (owner !== undefined && owner !== l.organizationId) {
        problems.push({
          kind: 'location',
          id: l.id,
          message: `location ${l.id} belongs to organization ${owner} in the directory, not ${l.organizationId}`,
        });
      }
    }
    const serviceOwners = await this.store.serviceOwners(
      directory.services.map((s) => s.id),
      manager,
    );
    for (const s of directory.services) {
      if (!orgIds.has(s.organizationId) && !knownOrgs.has(s.organizationId)) {
        problems.push({
          kind: 'service',
          id: s.id,
          field: 'organization_id',
          message: `organization ${s.organizationId} is neither in the document nor in the directory`,
        });
      }
      const owner = serviceOwners.get(s.id);
      if (owner !== undefined && owner !== s.organizationId) {
        problems.push({
          kind: 'service',
          id: s.id,
          message: `service ${s.id} belongs to organization ${owner} in the directory, not ${s.organizationId}`,
        });
      }
      s.locationIds.forEach((id) => {
        const owner = locationOwner.get(id) ?? stored.get(id);
        if (owner === undefined) {
          problems.push({ kind: 'service', id: s.id, message: `location ${id} is not known` });
        }
      });
    }
    for (const l of directory.locations) {
      if (!orgIds.has(l.organizationId) && !knownOrgs.has(l.organizationId)) {
        problems.push({
          kind: 'location',
          id: l.id,
          message: `organization ${l.organizationId} is neither in the document nor in the directory`,
        });
      }
    }
    if (problems.length > 0) throw new DirectoryConsistencyError(problems);
  }
}

function sameId(urlId: string, bodyId: string | undefined): void {
  if (bodyId !== undefined && bodyId !== urlId) {
    throw new BadRequestException({
      statusCode: 400,
      error: 'Bad Request',
      message: [`id: the body's id "${bodyId}" differs from the URL's "${urlId}"`],
      fields: ['id'],
    });
  }
}
