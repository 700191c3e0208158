import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Location, Organization, Service } from '@carerelay/directory';
import { SERVICE_SCHEMA } from '@carerelay/persistence';

export type DirectoryKind = 'organization' | 'service' | 'location';

export interface DirectorySnapshot {
  services: Service[];
  organizations: Map<string, Organization>;
  locations: Map<string, Location>;
}

/**
 * The referral service's own copy of the directory, kept from directory.events.v1, so routing
 * never calls the directory service. A snapshot is cached in memory for a short while.
 */
@Injectable()
export class DirectoryView {
  private cached?: { at: number; snapshot: DirectorySnapshot };
  private loading?: Promise<DirectorySnapshot>;
  /** Moves on every upsert: a read begun before one is not cached after it. */
  private generation = 0;
  private static readonly CACHE_MS = 2_000;

  constructor(@Inject(SERVICE_SCHEMA) private readonly schema: string) {}

  /** Keeps the newest record of each entry; an older event arriving late changes nothing. */
  async upsert(
    manager: EntityManager,
    kind: DirectoryKind,
    record: { id: string; organizationId?: string },
    organizationId: string,
    updatedAt: string,
  ): Promise<void> {
    await manager.query(
      `INSERT INTO "${this.schema}".directory_entry (kind, id, organization_id, record, updated_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (kind, id) DO UPDATE SET record = EXCLUDED.record, updated_at = EXCLUDED.updated_at,
         organization_id = EXCLUDED.organization_id
       WHERE "${this.schema}".directory_entry.updated_at <= EXCLUDED.updated_at`,
      [kind, record.id, organizationId, JSON.stringify(record), updatedAt],
    );
    this.cached = undefined;
    this.generation += 1;
  }

  /**
   * The directory, read on the connection of the caller's transaction, once for all who ask
   * meanwhile. A read on a second pooled connection from inside a transaction waits for a
   * connection that, with the pool full of transactions doing the same, none gives back.
   */
  snapshot(manager: EntityManager): Promise<DirectorySnapshot> {
    if (this.cached && Date.now() - this.cached.at < DirectoryView.CACHE_MS)
      return Promise.resolve(this.cached.snapshot);
    this.loading ??= this.load(manager).finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async load(manager: EntityManager): Promise<DirectorySnapshot> {
    const generation = this.generation;
    const rows: Array<{ kind: DirectoryKind; record: unknown }> = await manager.query(
      `SELECT kind, record FROM "${this.schema}".directory_entry`,
    );
    const snapshot: DirectorySnapshot = {
      services: [],
      organizations: new Map(),
      locations: new Map(),
    };
    for (const row of rows) {
      if (row.kind === 'service') snapshot.services.push(row.record as Service);
      if (row.kind === 'organization') {
        const organization = row.record as Organization;
        snapshot.organizations.set(organization.id, organization);
      }
      if (row.kind === 'location') {
        const location = row.record as Location;
        snapshot.locations.set(location.id, location);
      }
    }
    if (generation === this.generation) this.cached = { at: Date.now(), snapshot };
    return snapshot;
  }
}
