import { QueryRunner } from 'typeorm';

/** The schema a migration runs in: the data source's own, so migrations don't hard-code it. */
export function schemaOf(queryRunner: QueryRunner): string {
  const schema = (queryRunner.connection.options as { schema?: string }).schema;
  if (!schema) throw new Error('the data source has no schema; use createServiceDataSource');
  return schema;
}
