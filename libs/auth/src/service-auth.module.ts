import { DynamicModule, Injectable, Module, OnApplicationBootstrap } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, DiscoveryModule, DiscoveryService } from '@nestjs/core';
import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import { loadConfig } from '@carerelay/config';
import { MESSAGE_BUS, type MessageBus } from '@carerelay/messaging';
import { ClientRevocationFeed, ClientRevocations } from './client-revocations';
import { undecidedRoutes } from './route-policies';
import { jwksUrlOf, ServiceAuthConfig } from './service-auth.config';
import { ServiceAuthErrorFilter } from './service-auth.errors';
import { ServiceAuthGuard, ServiceAuthSettings } from './service-auth.guard';

export interface ServiceAuthOptions {
  /** Environment to read ServiceAuthConfig from. Default process.env. */
  env?: Record<string, string | undefined>;
  /**
   * Follow auth.clients.v1 (needs MessagingModule's bus) so that a disabled client's tokens are
   * refused at once; the name goes into the feed's consumer group. Unset: tokens of a disabled
   * client are refused only once they expire.
   */
  revocationsOf?: string;
}

/** Refuses to start a service with an HTTP route that has neither @Roles nor @Public. */
@Injectable()
class RoutePolicyCheck implements OnApplicationBootstrap {
  constructor(private readonly discovery: DiscoveryService) {}

  onApplicationBootstrap(): void {
    const controllers = this.discovery
      .getControllers()
      .map((wrapper) => wrapper.metatype)
      .filter((m): m is NonNullable<typeof m> => typeof m === 'function');
    const undecided = undecidedRoutes(controllers as never[]);
    if (undecided.length > 0) {
      throw new Error(
        `routes without an access decision (@Roles or @Public): ${undecided
          .map((r) => `${r.method} ${r.path} (${r.controller}.${r.handler})`)
          .join(', ')}`,
      );
    }
  }
}

/**
 * Authentication of a service's HTTP API: a global guard that verifies the FHIR API's access
 * tokens against its published JWKS and checks each route's @Roles, problem+json refusals, and
 * a start-up check that every route has decided who may call it.
 */
@Module({})
export class ServiceAuthModule {
  static forRoot(options: ServiceAuthOptions = {}): DynamicModule {
    const config = loadConfig(ServiceAuthConfig, options.env ?? process.env);
    const issuer = (config.SERVICE_AUTH_ISSUER ?? config.FHIR_BASE_URL).replace(/\/+$/, '');
    const jwksUrl = config.SERVICE_AUTH_JWKS_URL ?? jwksUrlOf(issuer);
    // Keys are fetched on first use and again for an unknown kid (a rotated signing key).
    const keys: JWTVerifyGetKey = createRemoteJWKSet(new URL(jwksUrl), {
      timeoutDuration: 5_000,
      cooldownDuration: 30_000,
      cacheMaxAge: 10 * 60_000,
    });
    const adminOrganizations = (
      config.SERVICE_AUTH_ADMIN_ORGANIZATIONS ?? config.PLATFORM_ORGANIZATION_ID
    ).split(',');
    const revocations = options.revocationsOf !== undefined ? new ClientRevocations() : undefined;
    const feed =
      options.revocationsOf !== undefined
        ? [
            { provide: ClientRevocations, useValue: revocations },
            {
              provide: ClientRevocationFeed,
              inject: [MESSAGE_BUS],
              useFactory: (bus: MessageBus) =>
                new ClientRevocationFeed(revocations!, bus, options.revocationsOf!),
            },
          ]
        : [];
    return {
      module: ServiceAuthModule,
      imports: [DiscoveryModule],
      providers: [
        {
          provide: ServiceAuthSettings,
          useValue: new ServiceAuthSettings(issuer, keys, adminOrganizations, revocations),
        },
        ...feed,
        ServiceAuthGuard,
        RoutePolicyCheck,
        { provide: APP_GUARD, useExisting: ServiceAuthGuard },
        { provide: APP_FILTER, useClass: ServiceAuthErrorFilter },
      ],
      exports: [ServiceAuthSettings, ...(revocations ? [ClientRevocationFeed] : [])],
    };
  }
}
