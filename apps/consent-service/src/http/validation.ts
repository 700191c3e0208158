import { BadRequestException, ValidationError, ValidationPipe } from '@nestjs/common';

const describe = (errors: ValidationError[], prefix = ''): Array<[string, string]> =>
  errors.flatMap((error) => {
    const field = `${prefix}${error.property}`;
    const own = Object.values(error.constraints ?? {}).map(
      (message) => [field, message] as [string, string],
    );
    return [...own, ...describe(error.children ?? [], `${field}.`)];
  });

/** class-validator on query and path parameters: unknown or bad fields → 400 naming each one. */
export const strictValidation = (): ValidationPipe =>
  new ValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: true,
    exceptionFactory: (errors) => {
      const problems = describe(errors);
      return new BadRequestException({
        statusCode: 400,
        error: 'Bad Request',
        message: problems.map(([, message]) => message),
        fields: [...new Set(problems.map(([field]) => field))],
      });
    },
  });
