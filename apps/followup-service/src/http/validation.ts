import { BadRequestException, ValidationPipe } from '@nestjs/common';
import { ValidationOptions, registerDecorator } from 'class-validator';
import { isValidTimeZone, isLocalDate } from '../policy/business-time';
import { isDuration } from '../policy/duration';

/** Ids as the FHIR API spells them (referral ids are source Task ids). */
export const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

/** For every HTTP body: unknown properties are refused, each problem names its field. */
export const bodyValidation = new ValidationPipe({
  whitelist: true,
  forbidNonWhitelisted: true,
  transform: true,
  stopAtFirstError: false,
});

export function checkId(name: string, value: string): string {
  if (!ID_PATTERN.test(value)) {
    throw new BadRequestException([`${name} must be 1 to 64 letters, digits, '-' or '.'`]);
  }
  return value;
}

function rule(
  name: string,
  test: (value: unknown) => boolean,
  message: string,
  options?: ValidationOptions,
) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name,
      target: target.constructor,
      propertyName,
      options: { message: `$property ${message}`, ...options },
      validator: { validate: test },
    });
}

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
