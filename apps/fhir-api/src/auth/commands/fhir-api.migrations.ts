import { FHIR_API_ALL_MIGRATIONS } from '../../migrations';

type MigrationClass = new () => { name?: string };

/**
 * The fhir-api's migrations, exactly the list the app runs (FHIR_API_ALL_MIGRATIONS: messaging,
 * the store, auth and audit tables), so that the CLI and the app never disagree about the schema.
 */
export function fhirApiMigrations(): MigrationClass[] {
  return [...FHIR_API_ALL_MIGRATIONS] as MigrationClass[];
}
