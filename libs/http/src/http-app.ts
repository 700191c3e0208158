import type { INestApplication } from '@nestjs/common';
import { JsonBodyInterceptor, safeUrl, type JsonBodyOptions } from './json-body';
import { ProblemDetailsFilter } from './problem-details';

/**
 * What every service's HTTP API (all but the FHIR API) shares: URLs checked for what cannot be
 * text, the guarded JSON body parser (after the guards: an unauthenticated body is never read)
 * and problem+json errors. The app must be created with `bodyParser: false`.
 */
export function useServiceHttp(app: INestApplication, options: JsonBodyOptions = {}): void {
  app.use(safeUrl());
  app.useGlobalInterceptors(new JsonBodyInterceptor(options));
  app.useGlobalFilters(new ProblemDetailsFilter());
}
