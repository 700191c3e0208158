import { DynamicModule, Module } from '@nestjs/common';
import { serviceImports, serviceSchemaProvider } from '@carerelay/service';
import type { JWK } from 'jose';
import { FhirApiClient, SmartBackendTokenSource } from '@carerelay/fhir-client';
import { ConsentView } from './consent-view/consent-view';
import { DirectoryView } from './directory-view/directory-view';
import { DirectoryViewHandler } from './directory-view/directory-view.handler';
import { ReferralFhirGateway } from './fhir/referral-fhir.gateway';
import { REFERRAL_MIGRATIONS } from './migrations';
import { ReconciliationRepository } from './reconciliation/reconciliation.repository';
import { ReferralReconciler } from './reconciliation/referral.reconciler';
import { REFERRAL_CONFIG } from './referral-config.token';
import {
  REFERRAL_SCHEMA,
  REFERRAL_SERVICE_NAME,
  ReferralServiceConfig,
} from './referral-service.config';
import { Referral } from './referrals/referral.entity';
import { ReferralEventsHandler } from './referrals/referral-events.handler';
import { ReferralStepRepository } from './referrals/referral-step.repository';
import { ReferralStepRunner } from './referrals/referral-step.runner';
import {
  REFERRAL_FHIR_GATEWAY,
  ROUTING_POLICY,
  ReferralWorkflowService,
} from './referrals/referral-workflow.service';

function fhirClient(config: ReferralServiceConfig): FhirApiClient {
  const privateJwk = JSON.parse(config.PLATFORM_PRIVATE_JWK) as JWK;
  const tokens = new SmartBackendTokenSource({
    tokenUrl: `${config.FHIR_API_BASE_URL}/auth/token`,
    clientId: config.PLATFORM_CLIENT_ID,
    privateJwk,
    alg: privateJwk.kty === 'EC' ? 'ES384' : 'RS384',
    scope: config.PLATFORM_SCOPES,
  });
  return new FhirApiClient(config.FHIR_API_BASE_URL, tokens);
}

@Module({})
export class AppModule {
  static register(
    config: ReferralServiceConfig,
    schema = REFERRAL_SCHEMA,
    client?: FhirApiClient,
  ): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ...serviceImports({
          serviceName: REFERRAL_SERVICE_NAME,
          config,
          schema,
          migrations: REFERRAL_MIGRATIONS,
          entities: [Referral],
        }),
      ],
      controllers: [ReferralEventsHandler, DirectoryViewHandler],
      providers: [
        serviceSchemaProvider(schema),
        { provide: REFERRAL_CONFIG, useValue: config },
        {
          provide: REFERRAL_FHIR_GATEWAY,
          useFactory: () =>
            new ReferralFhirGateway(client ?? fhirClient(config), config.PLATFORM_ORGANIZATION_ID),
        },
        {
          provide: ROUTING_POLICY,
          useValue: {
            maxAttempts: config.ROUTING_MAX_ATTEMPTS,
            whenExhausted: config.ROUTING_WHEN_EXHAUSTED,
          },
        },
        DirectoryView,
        ConsentView,
        ReferralWorkflowService,
        ReferralStepRepository,
        ReferralStepRunner,
        ReconciliationRepository,
        ReferralReconciler,
      ],
    };
  }
}
