import type { INestApplication } from '@nestjs/common';
import { jsonBody, type JsonBodyOptions } from './json-body';
import { ProblemDetailsFilter } from './problem-details';

/**
 * What every service's HTTP API (all but the FHIR API) shares: the guarded JSON body parser
 * and problem+json errors. The app must be created with `bodyParser: false`.
 */
export function useServiceHttp(app: INestApplication, options: JsonBodyOptions = {}): void {
  app.use(jsonBody(options));
  app.useGlobalFilters(new ProblemDetailsFilter());
}
