import { randomBytes } from 'node:crypto';
import type { JSONWebKeySet } from 'jose';
import { DataSource, EntityManager } from 'typeorm';
import { EventTypes } from '@carerelay/contracts';
import { OutboxWriter } from '@carerelay/messaging';
import { isActorRole, type ActorRole } from './request-actor';

/** A registered system client (SMART Backend Services, private_key_jwt). */
export interface RegisteredClient {
  clientId: string;
  organizationId: string;
  role: ActorRole;
  jwks: JSONWebKeySet;
  createdAt: Date;
  active: boolean;
}

export class ClientRegistrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClientRegistrationError';
  }
}

const ORGANIZATION_ID = /^[A-Za-z0-9\-.]{1,64}$/; // a FHIR id
const ALLOWED_KEY_TYPES = new Set(['RSA', 'EC']);

/**
 * Checks a client's JWKS before it is stored: public keys only (no private parts), RSA of at
 * least 2048 bits or EC P-384 (what RS384 / ES384 need), each with a `kid`.
 */
export function validateClientJwks(value: unknown): JSONWebKeySet {
  if (
    typeof value !== 'object' ||
    value === null ||
    !Array.isArray((value as JSONWebKeySet).keys)
  ) {
    throw new ClientRegistrationError('the JWKS must be a JSON object with a "keys" array');
  }
  const keys = (value as JSONWebKeySet).keys;
  if (keys.length === 0) throw new ClientRegistrationError('the JWKS has no keys');
  if (keys.length > 20) throw new ClientRegistrationError('the JWKS has more than 20 keys');
  keys.forEach((key, i) => {
    const where = `keys[${i}]`;
    if (typeof key !== 'object' || key === null) {
      throw new ClientRegistrationError(`${where} is not an object`);
    }
    if (!ALLOWED_KEY_TYPES.has(String(key.kty))) {
      throw new ClientRegistrationError(`${where}: kty must be RSA or EC`);
    }
    if ('d' in key || 'p' in key || 'q' in key) {
      throw new ClientRegistrationError(`${where} is a private key: register the public key only`);
    }
    if (typeof key.kid !== 'string' || key.kid.length === 0) {
      throw new ClientRegistrationError(`${where} has no "kid"`);
    }
    if (key.kty === 'EC' && key.crv !== 'P-384') {
      throw new ClientRegistrationError(`${where}: EC keys must be on P-384 (ES384)`);
    }
    if (key.kty === 'RSA') {
      const bits = typeof key.n === 'string' ? Buffer.from(key.n, 'base64url').length * 8 : 0;
      if (bits < 2048)
        throw new ClientRegistrationError(`${where}: RSA keys need 2048 bits or more`);
    }
    if (key.alg !== undefined && key.alg !== 'RS384' && key.alg !== 'ES384') {
      throw new ClientRegistrationError(`${where}: alg must be RS384 or ES384`);
    }
    if (key.use !== undefined && key.use !== 'sig') {
      throw new ClientRegistrationError(`${where}: use must be "sig"`);
    }
  });
  return { keys: keys.map((key) => ({ ...key })) };
}

export function newClientId(): string {
  return `crc_${randomBytes(16).toString('base64url')}`;
}

interface ClientRow {
  client_id: string;
  organization_id: string;
  role: string;
  jwks: JSONWebKeySet;
  created_at: Date;
  active: boolean;
}

function fromRow(row: ClientRow): RegisteredClient {
  if (!isActorRole(row.role)) throw new Error(`client ${row.client_id} has an unknown role`);
  return {
    clientId: row.client_id,
    organizationId: row.organization_id,
    role: row.role,
    jwks: row.jwks,
    createdAt: new Date(row.created_at),
    active: row.active,
  };
}

type Db = DataSource | EntityManager;

/**
 * The client registry, used by the token endpoint, the guard and the CLI (`clients:add`,
 * `clients:list`, `clients:disable`). `schema` is the fhir-api's schema (the data source's own).
 */
export class ClientRegistry {
  constructor(
    private readonly db: Db,
    private readonly schema: string,
  ) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid schema ${schema}`);
  }

  static forDataSource(dataSource: DataSource): ClientRegistry {
    const schema = (dataSource.options as { schema?: string }).schema;
    if (!schema) throw new Error('the data source has no schema');
    return new ClientRegistry(dataSource, schema);
  }

  private get table(): string {
    return `"${this.schema}".auth_clients`;
  }

  async add(input: {
    organizationId: string;
    role: string;
    jwks: unknown;
  }): Promise<RegisteredClient> {
    if (!ORGANIZATION_ID.test(input.organizationId)) {
      throw new ClientRegistrationError(
        '--org must be an Organization id (letters, digits, - and .)',
      );
    }
    if (!isActorRole(input.role)) {
      throw new ClientRegistrationError('--role must be ehr, cbo, coordinator or platform');
    }
    const jwks = validateClientJwks(input.jwks);
    const rows: ClientRow[] = await this.db.query(
      `INSERT INTO ${this.table} (client_id, organization_id, role, jwks)
       VALUES ($1, $2, $3, $4::jsonb)
       RETURNING client_id, organization_id, role, jwks, created_at, active`,
      [newClientId(), input.organizationId, input.role, JSON.stringify(jwks)],
    );
    return fromRow(rows[0]);
  }

  async find(clientId: string): Promise<RegisteredClient | null> {
    const rows: ClientRow[] = await this.db.query(
      `SELECT client_id, organization_id, role, jwks, created_at, active
         FROM ${this.table} WHERE client_id = $1`,
      [clientId],
    );
    return rows.length > 0 ? fromRow(rows[0]) : null;
  }

  async list(): Promise<RegisteredClient[]> {
    const rows: ClientRow[] = await this.db.query(
      `SELECT client_id, organization_id, role, jwks, created_at, active
         FROM ${this.table} ORDER BY created_at, client_id`,
    );
    return rows.map(fromRow);
  }

  /**
   * Disables a client: its next token request and its current tokens are refused. The FHIR API
   * reads `active` (cached a few seconds); the service APIs, which do not read this table, learn
   * it from auth.clients.v1, written in the same transaction (the fhir-api's outbox).
   */
  async disable(clientId: string): Promise<boolean> {
    const run = async (manager: EntityManager): Promise<boolean> => {
      // Wrapped in a SELECT: TypeORM answers a bare UPDATE with [rows, count], not rows.
      const rows: Array<{ client_id: string; organization_id: string; disabled_at: Date }> =
        await manager.query(
          `WITH disabled AS (
             UPDATE ${this.table} SET active = false, disabled_at = COALESCE(disabled_at, now())
              WHERE client_id = $1 RETURNING client_id, organization_id, disabled_at)
           SELECT client_id, organization_id, disabled_at FROM disabled`,
          [clientId],
        );
      if (rows.length === 0) return false;
      // Announced again on every disable: a service that missed it (retention) hears it anew.
      await new OutboxWriter(this.schema, '/carerelay/fhir-api').append(
        manager,
        EventTypes.clientDisabled,
        {
          clientId: rows[0].client_id,
          organizationId: rows[0].organization_id,
          disabledAt: new Date(rows[0].disabled_at).toISOString(),
        },
      );
      return true;
    };
    return this.db instanceof DataSource
      ? this.db.transaction(run)
      : this.db.queryRunner?.isTransactionActive
        ? run(this.db)
        : this.db.transaction(run);
  }
}
