import type { ValidationOptions } from 'class-validator';
import { rule, strictValidation } from '@carerelay/http';
import { isValidTimeZone, isLocalDate } from '../policy/business-time';
import { isDuration } from '../policy/duration';

/** One pipe instance for every body of the service. */
export const bodyValidation = strictValidation();

export const IsDurationSpec = (options?: ValidationOptions) =>
  rule(
    'isDurationSpec',
    isDuration,
    'must be an ISO-8601 duration (P2D, PT24H, P1W, PT2S; no years or months) or a whole number of seconds',
    options,
  );

export const IsTimeZone = (options?: ValidationOptions) =>
  rule(
    'isTimeZone',
    (value) => typeof value === 'string' && isValidTimeZone(value),
    'must be an IANA time zone such as America/New_York',
    options,
  );

export const IsLocalDate = (options?: ValidationOptions) =>
  rule(
    'isLocalDate',
    (value) => typeof value === 'string' && isLocalDate(value),
    'must be a date as YYYY-MM-DD',
    options,
  );
