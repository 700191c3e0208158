import { BadRequestException, ValidationError, ValidationPipe } from '@nestjs/common';
import { ValidationOptions, registerDecorator } from 'class-validator';
import { normalizeLanguageTag, normalizePostalCode } from '@carerelay/directory';

/** Ids as FHIR spells them: the directory's ids become FHIR resource ids. */
export const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;
export const ID_MESSAGE = "must be 1 to 64 letters, digits, '-' or '.' (a FHIR id)";

/** A field path as JSON paths are written elsewhere: `serviceAreas[0].radiusKm`. */
const join = (prefix: string, property: string): string =>
  /^\d+$/.test(property) ? `${prefix}[${property}]` : prefix ? `${prefix}.${property}` : property;

/** Every problem of a validation run, each with the path of its field. */
export function describeValidationErrors(
  errors: ValidationError[],
  prefix = '',
): Array<{ field: string; message: string }> {
  return errors.flatMap((error) => {
    const field = join(prefix, error.property);
    const own = Object.values(error.constraints ?? {}).map((constraint) => ({
      field,
      // class-validator starts messages with the bare property name: give the full path.
      message: constraint.startsWith(`${error.property} `)
        ? `${field}${constraint.slice(error.property.length)}`
        : `${field}: ${constraint}`,
    }));
    return [...own, ...describeValidationErrors(error.children ?? [], field)];
  });
}

export function validationException(
  problems: Array<{ field: string; message: string }>,
): BadRequestException {
  return new BadRequestException({
    statusCode: 400,
    error: 'Bad Request',
    message: problems.map((p) => p.message),
    fields: [...new Set(problems.map((p) => p.field))],
  });
}

/** For every body and query: unknown properties refused, 400 naming each field (nested too). */
export const strictValidation = (): ValidationPipe =>
  new ValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: true,
    stopAtFirstError: false,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => validationException(describeValidationErrors(errors)),
  });

export function checkId(name: string, value: string): string {
  if (!ID_PATTERN.test(value)) {
    throw validationException([{ field: name, message: `${name} ${ID_MESSAGE}` }]);
  }
  return value;
}

function rule(
  name: string,
  test: (value: unknown, object: object) => boolean,
  message: string,
  options?: ValidationOptions,
) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name,
      target: target.constructor,
      propertyName,
      options: { message: `$property ${message}`, ...options },
      validator: { validate: (value, args) => test(value, args?.object ?? {}) },
    });
}

export const IsLanguageTag = (options?: ValidationOptions) =>
  rule(
    'isLanguageTag',
    (value) => typeof value === 'string' && normalizeLanguageTag(value) !== undefined,
    'must be a BCP-47 language tag (es, es-MX), an ISO 639 code or an English language name',
    options,
  );

export const IsZipCode = (options?: ValidationOptions) =>
  rule(
    'isZipCode',
    (value) => typeof value === 'string' && normalizePostalCode(value) !== undefined,
    'must be a US ZIP code (60623 or 60623-1234)',
    options,
  );

export const IsEligibilityValue = (options?: ValidationOptions) =>
  rule(
    'isEligibilityValue',
    (value) =>
      typeof value === 'string' ||
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value)),
    'must be a string, a number or a boolean',
    options,
  );

/** The value is not below the number in the sibling property `other` (when both are set). */
export const IsNotBelow = (other: string, options?: ValidationOptions) =>
  rule(
    'isNotBelow',
    (value, object) => {
      const bound = (object as Record<string, unknown>)[other];
      return typeof value !== 'number' || typeof bound !== 'number' || value >= bound;
    },
    `must not be less than ${other}`,
    options,
  );

/** An HH:MM time after the HH:MM time in the sibling property `other`. */
export const IsTimeAfter = (other: string, options?: ValidationOptions) =>
  rule(
    'isTimeAfter',
    (value, object) => {
      const start = (object as Record<string, unknown>)[other];
      return typeof value !== 'string' || typeof start !== 'string' || value > start;
    },
    `must be later than ${other}`,
    options,
  );

/** A number when the sibling `op` is one of `ops` (gt, gte, lt, lte compare numbers). */
export const IsNumberFor = (ops: readonly string[], options?: ValidationOptions) =>
  rule(
    'isNumberFor',
    (value, object) =>
      !ops.includes(String((object as { op?: unknown }).op)) ||
      (typeof value === 'number' && Number.isFinite(value)),
    `must be a number for ${ops.join(', ')}`,
    options,
  );
