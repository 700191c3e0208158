import { ConfigError, loadConfig } from '@carerelay/config';
import { EhrConnectorConfig, POOL_CONNECTIONS_BESIDE_PUSH } from './ehr-connector.config';

const base = {
  KAFKA_BROKERS: 'localhost:9092',
  DATABASE_URL: 'postgres://x@localhost/db',
  FHIR_API_AUTH: 'dev',
};

describe('EhrConnectorConfig', () => {
  it('starts with the default push lanes and pool', () => {
    const config = loadConfig(EhrConnectorConfig, base);
    expect(config.PUSH_CONCURRENCY + POOL_CONNECTIONS_BESIDE_PUSH).toBeLessThanOrEqual(
      config.EHR_CONNECTOR_DB_POOL_SIZE,
    );
  });

  it('refuses push lanes that leave the rest of the connector too few connections', () => {
    expect(() => loadConfig(EhrConnectorConfig, { ...base, PUSH_CONCURRENCY: '32' })).toThrow(
      ConfigError,
    );
    expect(() => loadConfig(EhrConnectorConfig, { ...base, PUSH_CONCURRENCY: '32' })).toThrow(
      /PUSH_CONCURRENCY.*must leave 6 connections/,
    );
    expect(() =>
      loadConfig(EhrConnectorConfig, {
        ...base,
        PUSH_CONCURRENCY: '19',
        EHR_CONNECTOR_DB_POOL_SIZE: '24',
      }),
    ).toThrow(/PUSH_CONCURRENCY/);
  });

  it('takes more push lanes with a pool large enough for them', () => {
    const config = loadConfig(EhrConnectorConfig, {
      ...base,
      PUSH_CONCURRENCY: '32',
      EHR_CONNECTOR_DB_POOL_SIZE: '38',
    });
    expect(config.PUSH_CONCURRENCY).toBe(32);
  });
});
