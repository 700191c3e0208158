import {
  ArgumentsHost,
  BadRequestException,
  Catch,
  ExceptionFilter,
  HttpException,
  ValidationError,
  ValidationPipe,
} from '@nestjs/common';
import type { Response } from 'express';

/** HTTP errors as application/problem+json (RFC 9457); `errors` lists each bad parameter. */
@Catch(HttpException)
export class ProblemJsonFilter implements ExceptionFilter<HttpException> {
  catch(exception: HttpException, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const status = exception.getStatus();
    const body = exception.getResponse();
    const messages =
      typeof body === 'object' && body !== null && 'message' in body
        ? (body as { message: unknown }).message
        : exception.message;
    const errors = Array.isArray(messages) ? messages.map(String) : undefined;
    response
      .status(status)
      .type('application/problem+json')
      .send(
        JSON.stringify({
          type: 'about:blank',
          title: exception.name.replace(/Exception$/, '').replace(/([a-z])([A-Z])/g, '$1 $2'),
          status,
          detail: errors ? errors.join('; ') : String(messages),
          ...(errors ? { errors } : {}),
        }),
      );
  }
}

const messagesOf = (errors: ValidationError[]): string[] =>
  errors.flatMap((e) => [...Object.values(e.constraints ?? {}), ...messagesOf(e.children ?? [])]);

/** Query parameters: unknown ones are refused, each problem names its parameter. */
export const queryValidation = (): ValidationPipe =>
  new ValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: true,
    exceptionFactory: (errors) => new BadRequestException(messagesOf(errors)),
  });
