import { ConfigError, loadConfig } from '@carerelay/config';
import { FhirApiConfig } from './fhir-api.config';

const base = { KAFKA_BROKERS: 'localhost:9092', DATABASE_URL: 'postgres://x@localhost/db' };

describe('FhirApiConfig', () => {
  it('refuses FHIR_AUTH_DISABLED with NODE_ENV=production', () => {
    expect(() =>
      loadConfig(FhirApiConfig, { ...base, NODE_ENV: 'production', FHIR_AUTH_DISABLED: 'true' }),
    ).toThrow(ConfigError);
    expect(
      loadConfig(FhirApiConfig, { ...base, NODE_ENV: 'development', FHIR_AUTH_DISABLED: 'true' })
        .FHIR_AUTH_DISABLED,
    ).toBe(true);
    expect(loadConfig(FhirApiConfig, { ...base, NODE_ENV: 'production' }).FHIR_AUTH_DISABLED).toBe(
      false,
    );
  });
});
