import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { REFUSED_INPUT, type RequestWithRefusal } from './fhir-body.middleware';

/**
 * Throws the refusal fhirBodyMiddleware left on the request, now that the auth guard has run:
 * the caller is known, so FhirExceptionFilter answers and audits it like any refused request.
 */
@Injectable()
export class RefusedInputInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const refusal = context.switchToHttp().getRequest<RequestWithRefusal>()[REFUSED_INPUT];
    if (refusal) throw refusal;
    return next.handle();
  }
}
