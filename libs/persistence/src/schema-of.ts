import { QueryRunner } from 'typeorm';

/** The schema a migration runs in: the data source's own, so migrations don't hard-code it. */
export function schemaOf(queryRunner: QueryRunner): string {
  const schema = (queryRunner.connection.options as { schema?: string }).schema;
  if (!schema) throw new Error('the data source has no schema; use createServiceDataSource');
  return schema;
}

/** Nest token of the service's own schema (a service owns exactly one; tests use their own). */
export const SERVICE_SCHEMA = Symbol('SERVICE_SCHEMA');
