import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import type { Directory, Location, Organization, Service } from '@carerelay/directory';
import { SERVICE_SCHEMA } from '@carerelay/persistence';
import { serviceColumns } from './dto-to-model';

export type WriteOutcome = 'created' | 'updated' | 'unchanged';

export interface Written {
  outcome: WriteOutcome;
  /** The entry's `updated_at` after the write: the `occurredAt` of the event announcing it. */
  occurredAt: string;
}

export interface StoredEntry<T> {
  record: T;
  updatedAt: string;
  version: number;
}

export interface ServiceFilter {
  category?: string;
  zip?: string;
  /** Lower-case BCP-47 tag or primary subtag. */
  language?: string;
  organizationId?: string;
  status?: string;
  capacity?: string;
}

type Queryable = Pick<EntityManager, 'query'>;

interface Row<T> {
  record: T;
  updated_at: Date;
  version: number;
}

const entry = <T>(row: Row<T>): StoredEntry<T> => ({
  record: row.record,
  updatedAt: row.updated_at.toISOString(),
  version: row.version,
});

/**
 * The directory's tables. Writes are upserts that change nothing (and report `unchanged`) when
 * the record is the same, so a repeated request or import announces nothing new. `updated_at`
 * never goes backwards, so consumers that keep the newest record by `occurredAt` stay right.
 */
@Injectable()
export class DirectoryStore {
  constructor(
    readonly dataSource: DataSource,
    @Inject(SERVICE_SCHEMA) readonly schema: string,
  ) {}

  private get s(): string {
    return `"${this.schema}"`;
  }

  // ------------------------------------------------------------------------------------------
  // Reads

  async organization(
    id: string,
    db: Queryable = this.dataSource,
    forUpdate = false,
  ): Promise<(StoredEntry<Organization> & { retired: boolean }) | undefined> {
    const rows: Array<Row<Organization> & { retired_at: Date | null }> = await db.query(
      `SELECT record, updated_at, version, retired_at FROM ${this.s}.organization WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
      [id],
    );
    return rows[0] ? { ...entry(rows[0]), retired: rows[0].retired_at !== null } : undefined;
  }

  async organizations(
    filter: { network?: string; includeRetired?: boolean } = {},
    db: Queryable = this.dataSource,
  ): Promise<Organization[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (!filter.includeRetired) where.push('retired_at IS NULL');
    if (filter.network) {
      params.push(filter.network);
      where.push(`networks @> ARRAY[$${params.length}]::text[]`);
    }
    const rows: Array<{ record: Organization }> = await db.query(
      `SELECT record FROM ${this.s}.organization ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`,
      params,
    );
    return rows.map((r) => r.record);
  }

  async location(
    id: string,
    db: Queryable = this.dataSource,
    forUpdate = false,
  ): Promise<StoredEntry<Location> | undefined> {
    const rows: Array<Row<Location>> = await db.query(
      `SELECT record, updated_at, version FROM ${this.s}.location WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
      [id],
    );
    return rows[0] ? entry(rows[0]) : undefined;
  }

  async locations(
    filter: { organizationId?: string; zip?: string } = {},
    db: Queryable = this.dataSource,
  ): Promise<Location[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.organizationId) {
      params.push(filter.organizationId);
      where.push(`organization_id = $${params.length}`);
    }
    if (filter.zip) {
      params.push(filter.zip);
      where.push(`postal_code = $${params.length}`);
    }
    const rows: Array<{ record: Location }> = await db.query(
      `SELECT record FROM ${this.s}.location ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`,
      params,
    );
    return rows.map((r) => r.record);
  }

  /** Which of `ids` are locations, with their organization. */
  async locationOwners(
    ids: string[],
    db: Queryable = this.dataSource,
  ): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const rows: Array<{ id: string; organization_id: string }> = await db.query(
      `SELECT id, organization_id FROM ${this.s}.location WHERE id = ANY($1::text[])`,
      [ids],
    );
    return new Map(rows.map((r) => [r.id, r.organization_id]));
  }

  /** Which of `ids` are services, with their organization. */
  async serviceOwners(
    ids: string[],
    db: Queryable = this.dataSource,
  ): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const rows: Array<{ id: string; organization_id: string }> = await db.query(
      `SELECT id, organization_id FROM ${this.s}.service WHERE id = ANY($1::text[])`,
      [ids],
    );
    return new Map(rows.map((r) => [r.id, r.organization_id]));
  }

  async service(
    id: string,
    db: Queryable = this.dataSource,
    forUpdate = false,
  ): Promise<StoredEntry<Service> | undefined> {
    const rows: Array<Row<Service>> = await db.query(
      `SELECT record, updated_at, version FROM ${this.s}.service WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
      [id],
    );
    return rows[0] ? entry(rows[0]) : undefined;
  }

  /** Services by the indexed columns; a ZIP also finds radius areas (the caller checks those). */
  async services(filter: ServiceFilter = {}, db: Queryable = this.dataSource): Promise<Service[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: (p: string) => string, value: unknown) => {
      params.push(value);
      where.push(sql(`$${params.length}`));
    };
    if (filter.category) add((p) => `categories @> ARRAY[${p}]::text[]`, filter.category);
    if (filter.zip)
      add(
        (p) =>
          `(postal_codes @> ARRAY[${p}]::text[] OR record->'serviceAreas' @> '[{"kind":"radius"}]'::jsonb)`,
        filter.zip,
      );
    if (filter.language)
      add(
        (p) => `(languages @> ARRAY[${p}]::text[] OR (${p} = 'en' AND cardinality(languages) = 0))`,
        filter.language,
      );
    if (filter.organizationId) add((p) => `organization_id = ${p}`, filter.organizationId);
    if (filter.status) add((p) => `status = ${p}`, filter.status);
    if (filter.capacity) add((p) => `capacity_status = ${p}`, filter.capacity);
    const rows: Array<{ record: Service }> = await db.query(
      `SELECT record FROM ${this.s}.service ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`,
      params,
    );
    return rows.map((r) => r.record);
  }

  /** Services that deliver at, or draw a radius around, the location. */
  async servicesUsingLocation(id: string, db: Queryable = this.dataSource): Promise<string[]> {
    const rows: Array<{ id: string }> = await db.query(
      `SELECT id FROM ${this.s}.service
        WHERE record->'locationIds' @> to_jsonb(ARRAY[$1::text])
           OR record->'serviceAreas' @> jsonb_build_array(jsonb_build_object('locationId', $1::text))
        ORDER BY id`,
      [id],
    );
    return rows.map((r) => r.id);
  }

  /** Everything, with the time of each entry's last change. */
  async everything(db: Queryable = this.dataSource): Promise<{
    organizations: Array<StoredEntry<Organization>>;
    locations: Array<StoredEntry<Location>>;
    services: Array<StoredEntry<Service>>;
  }> {
    const read = async <T>(table: string): Promise<Array<StoredEntry<T>>> =>
      (
        (await db.query(
          `SELECT record, updated_at, version FROM ${this.s}.${table} ORDER BY organization_id, id`,
        )) as Array<Row<T>>
      ).map(entry);
    const organizations = (
      (await db.query(
        `SELECT record, updated_at, version FROM ${this.s}.organization ORDER BY id`,
      )) as Array<Row<Organization>>
    ).map(entry);
    return {
      organizations,
      locations: await read<Location>('location'),
      services: await read<Service>('service'),
    };
  }

  async directory(db: Queryable = this.dataSource): Promise<Directory> {
    const all = await this.everything(db);
    return {
      organizations: all.organizations.map((e) => e.record),
      locations: all.locations.map((e) => e.record),
      services: all.services.map((e) => e.record),
    };
  }

  async isEmpty(db: Queryable = this.dataSource): Promise<boolean> {
    const rows: unknown[] = await db.query(`SELECT 1 FROM ${this.s}.organization LIMIT 1`);
    return rows.length === 0;
  }

  // ------------------------------------------------------------------------------------------
  // Writes (inside the caller's transaction)

  private async upsert(manager: EntityManager, sql: string, params: unknown[]): Promise<Written> {
    const rows: Array<{ updated_at: Date; inserted: boolean }> = await manager.query(sql, params);
    if (rows.length === 0) return { outcome: 'unchanged', occurredAt: '' };
    return {
      outcome: rows[0].inserted ? 'created' : 'updated',
      occurredAt: rows[0].updated_at.toISOString(),
    };
  }

  writeOrganization(manager: EntityManager, org: Organization, now: Date): Promise<Written> {
    return this.upsert(
      manager,
      `INSERT INTO ${this.s}.organization AS t (id, name, networks, record, updated_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, networks = EXCLUDED.networks,
         record = EXCLUDED.record, retired_at = NULL, version = t.version + 1,
         updated_at = GREATEST(t.updated_at, EXCLUDED.updated_at)
       WHERE t.record IS DISTINCT FROM EXCLUDED.record OR t.retired_at IS NOT NULL
       RETURNING updated_at, (xmax = 0) AS inserted`,
      [org.id, org.name, org.networks, JSON.stringify(org), now],
    );
  }

  async retireOrganization(manager: EntityManager, id: string, now: Date): Promise<void> {
    await manager.query(
      `UPDATE ${this.s}.organization SET retired_at = $2, version = version + 1 WHERE id = $1`,
      [id, now],
    );
  }

  writeLocation(manager: EntityManager, location: Location, now: Date): Promise<Written> {
    return this.upsert(
      manager,
      `INSERT INTO ${this.s}.location AS t (id, organization_id, postal_code, record, updated_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET organization_id = EXCLUDED.organization_id,
         postal_code = EXCLUDED.postal_code, record = EXCLUDED.record, version = t.version + 1,
         updated_at = GREATEST(t.updated_at, EXCLUDED.updated_at)
       WHERE t.record IS DISTINCT FROM EXCLUDED.record
       RETURNING updated_at, (xmax = 0) AS inserted`,
      [
        location.id,
        location.organizationId,
        location.address?.postalCode ?? null,
        JSON.stringify(location),
        now,
      ],
    );
  }

  async deleteLocation(manager: EntityManager, id: string): Promise<void> {
    await manager.query(`DELETE FROM ${this.s}.location WHERE id = $1`, [id]);
  }

  writeService(manager: EntityManager, service: Service, now: Date): Promise<Written> {
    const { postalCodes, languages } = serviceColumns(service);
    return this.upsert(
      manager,
      `INSERT INTO ${this.s}.service AS t (id, organization_id, status, capacity_status, categories,
         postal_codes, languages, record, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (id) DO UPDATE SET organization_id = EXCLUDED.organization_id,
         status = EXCLUDED.status, capacity_status = EXCLUDED.capacity_status,
         categories = EXCLUDED.categories, postal_codes = EXCLUDED.postal_codes,
         languages = EXCLUDED.languages, record = EXCLUDED.record, version = t.version + 1,
         updated_at = GREATEST(t.updated_at, EXCLUDED.updated_at)
       WHERE t.record IS DISTINCT FROM EXCLUDED.record
       RETURNING updated_at, (xmax = 0) AS inserted`,
      [
        service.id,
        service.organizationId,
        service.status,
        service.capacity.status,
        service.categories,
        postalCodes,
        languages,
        JSON.stringify(service),
        now,
      ],
    );
  }

  // ------------------------------------------------------------------------------------------
  // Facts about the directory

  async meta(manager: Queryable, key: string): Promise<unknown> {
    const rows: Array<{ value: unknown }> = await manager.query(
      `SELECT value FROM ${this.s}.directory_meta WHERE key = $1`,
      [key],
    );
    return rows[0]?.value;
  }

  async setMeta(manager: EntityManager, key: string, value: unknown): Promise<void> {
    await manager.query(
      `INSERT INTO ${this.s}.directory_meta (key, value) VALUES ($1, $2)
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
      [key, JSON.stringify(value)],
    );
  }

  /** Serializes work on the directory as a whole (seeding, imports) for this transaction. */
  async lockDirectory(manager: EntityManager): Promise<void> {
    await manager.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`${this.schema}.directory`]);
  }
}
