import { loadConfig, ServiceConfig } from '@carerelay/config';
import { AnalyticsServiceConfig } from '../../apps/analytics-service/src/analytics-service.config';
import { ConsentServiceConfig } from '../../apps/consent-service/src/consent-service.config';
import { DirectoryServiceConfig } from '../../apps/directory-service/src/directory-service.config';
import { EhrConnectorConfig } from '../../apps/ehr-connector/src/ehr-connector.config';
import { FhirApiConfig } from '../../apps/fhir-api/src/fhir-api.config';
import { FollowupServiceConfig } from '../../apps/followup-service/src/followup-service.config';
import { ReferralServiceConfig } from '../../apps/referral-service/src/referral-service.config';
import { WebConfig } from '../../apps/web/src/web.config';
import { loadCheckoutModule } from '../support/started-network';

interface AppsModule {
  scaledOutPools: (
    app: string,
    instances: number,
    env?: Record<string, string>,
  ) => Record<string, string>;
}

const launcher = loadCheckoutModule<AppsModule>('infra/lib/network/apps.mjs');

const SERVICES: Record<string, new () => ServiceConfig> = {
  'analytics-service': AnalyticsServiceConfig,
  'consent-service': ConsentServiceConfig,
  'directory-service': DirectoryServiceConfig,
  'ehr-connector': EhrConnectorConfig,
  'fhir-api': FhirApiConfig,
  'followup-service': FollowupServiceConfig,
  'referral-service': ReferralServiceConfig,
  web: WebConfig,
};

/** What the services require beyond their pools, as the launcher gives it. */
const REQUIRED = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  DATABASE_URL: 'postgres://x@127.0.0.1/db',
  PLATFORM_CLIENT_ID: 'platform',
  PLATFORM_PRIVATE_JWK: '{}',
};

/** The connections one instance's pool may hold, by its validated config. */
function poolOf(app: string, env: Record<string, string>): number {
  const config = loadConfig(SERVICES[app], { ...REQUIRED, ...env }) as ServiceConfig &
    Partial<FhirApiConfig & EhrConnectorConfig>;
  if (app === 'fhir-api') return config.FHIR_DB_POOL_SIZE!;
  if (app === 'ehr-connector') return config.EHR_CONNECTOR_DB_POOL_SIZE!;
  return config.DB_POOL_SIZE;
}

describe('the launcher scaled out: each instance gets its share of the pools', () => {
  // Validation passing for every service also checks that the connector's push lanes leave it
  // the connections it needs beside them.
  it.each([2, 3])('%i instances of every service need no more connections than one', (n) => {
    for (const app of Object.keys(SERVICES)) {
      const one = poolOf(app, launcher.scaledOutPools(app, 1, {}));
      const each = poolOf(app, launcher.scaledOutPools(app, n, {}));
      expect({ app, each: each < one, within: n * each <= one + n - 1 }).toEqual({
        app,
        each: true,
        within: true,
      });
    }
  });

  it('leaves one instance with the pools its config sets, and the stand-in EHRs alone', () => {
    for (const app of Object.keys(SERVICES)) expect(launcher.scaledOutPools(app, 1)).toEqual({});
    expect(launcher.scaledOutPools('ehr-server', 2)).toEqual({});
  });

  it('keeps a pool variable set in the environment', () => {
    expect(launcher.scaledOutPools('fhir-api', 2, { FHIR_DB_POOL_SIZE: '30' })).toEqual({
      DB_POOL_SIZE: '5',
    });
  });
});
