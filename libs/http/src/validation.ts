import { BadRequestException, ValidationError, ValidationPipe } from '@nestjs/common';
import { ValidationOptions, registerDecorator } from 'class-validator';

/** Ids as FHIR spells them: the services' ids are, or become, FHIR resource ids. */
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

/** A 400 listing every problem (`message`) and the fields they concern (`fields`). */
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

/** For every body, query and path parameter: unknown properties refused, 400 naming each field. */
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

/** A class-validator decorator from a test of the value (and of the object holding it). */
export function rule(
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
