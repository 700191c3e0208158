import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { managementListenerOf, tlsFilesOf } from '@carerelay/config';
import { startService } from '@carerelay/service';
import { TOKEN_PATH } from './auth/auth.config';
import { loadFhirDefinitions } from '@carerelay/fhir';
import { tokenRateLimitMiddleware } from './http/fhir-rate-limit';
import { AppModule, FhirBase, type FhirApiModuleOptions } from './app.module';
import { FhirApiConfig } from './fhir-api.config';
import { acceptMiddleware } from './http/accept.middleware';
import {
  admissionLaneOf,
  admissionMiddleware,
  fhirAdmissionLimits,
} from './http/admission.middleware';
import { AccessTokens } from './auth/access-token';

export interface RunningFhirApi {
  app: INestApplication;
  /** The FHIR base URL (with the real port when FHIR_API_PORT was 0). */
  baseUrl: string;
  port: number;
  close: () => Promise<void>;
}

/**
 * Creates and starts the FHIR API. With FHIR_API_PORT=0 (tests) it listens on a free port and the
 * base URL follows it, unless FHIR_BASE_URL names another host than localhost/127.0.0.1.
 */
export async function startFhirApi(
  config: FhirApiConfig,
  options: FhirApiModuleOptions = {},
): Promise<RunningFhirApi> {
  loadFhirDefinitions(); // about a second: before the first request, not during it
  const app = await startService({
    name: 'fhir-api',
    logLevel: config.LOG_LEVEL,
    module: AppModule.register(config, options),
    port: config.FHIR_API_PORT,
    management: managementListenerOf(config),
    tls: tlsFilesOf(config),
    host: config.API_HOST,
    // FHIR bodies (application/fhir+json) and OperationOutcome errors are the API's own.
    http: false,
    nestBodyParser: false,
    // startService logs one line per request with its client and traceparent, which the store
    // puts on the fhir.changes.v1 events the request causes.
    configure: (app) => {
      // Overload becomes fast 503s here, before a body is read or a connection is taken.
      app.use(
        '/fhir',
        admissionMiddleware(
          fhirAdmissionLimits(config),
          // Without auth (FHIR_AUTH_DISABLED) there are no tokens to know a caller by.
          admissionLaneOf(config.FHIR_AUTH_DISABLED ? undefined : app.get(AccessTokens)),
        ),
      );
      app.use('/fhir', acceptMiddleware());
      app.use(
        `/fhir/${TOKEN_PATH}`,
        tokenRateLimitMiddleware({
          points: config.FHIR_TOKEN_RATE_LIMIT_POINTS,
          windowSeconds: config.FHIR_TOKEN_RATE_LIMIT_WINDOW_SECONDS,
        }),
      );
    },
  });
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const base = app.get(FhirBase);
  if (config.FHIR_API_PORT === 0) {
    const url = new URL(config.FHIR_BASE_URL);
    if (url.hostname === 'localhost' || url.hostname === '127.0.0.1') {
      url.port = String(port);
      base.url = url.toString().replace(/\/$/, '');
    }
  }
  return { app, baseUrl: base.url, port, close: () => app.close() };
}
