import { FHIR_API_MIGRATIONS } from '../../fhir-api/src/app.module';
import { AUDIT_MIGRATIONS } from '../../fhir-api/src/audit/migrations';
import { AUTH_MIGRATIONS } from '../../fhir-api/src/auth/migrations';

type MigrationClass = new () => { name?: string };

/**
 * The fhir-api's migrations, as the app runs them: the store's list (FHIR_API_MIGRATIONS: the
 * messaging tables and the store's tables) plus the auth and audit tables, each once (the store's
 * list may already include them), so that the CLI and the app never disagree about the schema.
 */
export function fhirApiMigrations(): MigrationClass[] {
  const seen = new Set<string>();
  const list: MigrationClass[] = [];
  for (const migration of [
    ...FHIR_API_MIGRATIONS,
    ...AUTH_MIGRATIONS,
    ...AUDIT_MIGRATIONS,
  ] as MigrationClass[]) {
    const name = new migration().name ?? migration.name;
    if (seen.has(name)) continue;
    seen.add(name);
    list.push(migration);
  }
  return list;
}
