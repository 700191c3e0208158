import { Matches } from 'class-validator';

/** Environment of the CLI (validated with libs/config's loadConfig). */
export class CliConfig {
  @Matches(/^postgres(ql)?:\/\/.+/, { message: 'must be a postgres:// URL' })
  DATABASE_URL: string = undefined as unknown as string;

  /** The FHIR base URL as clients see it; the token URL printed is `<base>/auth/token`. */
  @Matches(/^https?:\/\/[^\s?#]+\/fhir$/, { message: 'must be an http(s) URL ending in /fhir' })
  FHIR_BASE_URL = 'http://localhost:8080/fhir';

  /** The fhir-api's schema (same variable and default as the fhir-api). */
  @Matches(/^[a-z_][a-z0-9_]{0,62}$/, { message: 'must be a lower-case SQL identifier' })
  FHIR_DB_SCHEMA = 'fhir_api';
}
