import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import type { Response } from 'express';
import { isDatabaseUnavailable, safeErrorStack } from '@carerelay/persistence';

export const PROBLEM_JSON = 'application/problem+json; charset=utf-8';

/** An RFC 9457 problem document; extension members (`message`, `fields`) as the services had. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extension: string]: unknown;
}

const titleOf = (status: number): string =>
  ((HttpStatus as unknown as Record<number, string>)[status] ?? 'Error')
    .toLowerCase()
    .split('_')
    .map((word, i) => (i === 0 ? word[0].toUpperCase() + word.slice(1) : word))
    .join(' ');

export function problem(
  status: number,
  detail: string,
  extensions: Record<string, unknown> = {},
): ProblemDetails {
  return { type: 'about:blank', title: titleOf(status), status, detail, ...extensions };
}

// SQLSTATEs that only bad input causes (the transaction rolled back: nothing was written).
const INPUT_SQLSTATES: Record<string, { status: number; detail: string }> = {
  '23505': { status: 409, detail: 'conflicts with an existing record' },
  '22021': { status: 400, detail: 'contains bytes that are not UTF-8 text' },
  '22P05': { status: 400, detail: 'contains a character that cannot be stored' },
  '22001': { status: 400, detail: 'a value is too long' },
  '22003': { status: 400, detail: 'a number is out of range' },
  '22P02': { status: 400, detail: 'a value has the wrong syntax' },
  '22007': { status: 400, detail: 'a date or time is not valid' },
  '22008': { status: 400, detail: 'a date or time is out of range' },
  '54001': { status: 400, detail: 'the input is nested too deeply' },
};

function sqlStateOf(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const driver = (error as { driverError?: { code?: unknown } }).driverError;
  const code = driver?.code ?? (error as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * The problem document of whatever a handler threw: an HttpException keeps its status and
 * message (`message`, `fields` stay as extension members); a database error that only bad input
 * causes is a 4xx saying what kind of problem (never the value); anything else a 500 that says
 * nothing.
 */
export function toProblem(error: unknown): ProblemDetails {
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const response = error.getResponse();
    if (typeof response === 'string') return problem(status, response);
    // The exception's own members (message, fields, errors) stay as extension members.
    const {
      statusCode: _statusCode,
      error: _error,
      retryAfter: _retryAfter,
      message,
      ...members
    } = response as Record<string, unknown>;
    const messages = Array.isArray(message) ? message.map(String) : undefined;
    const detail = messages ? messages.join('; ') : String(message ?? error.message);
    return { ...members, message: message ?? detail, ...problem(status, detail) };
  }
  const input = INPUT_SQLSTATES[sqlStateOf(error) ?? ''];
  if (input) return problem(input.status, `The request ${input.detail}.`);
  if (isDatabaseUnavailable(error)) return problem(503, 'the service is temporarily unavailable');
  return problem(500, 'internal error');
}

export function sendProblem(
  res: Response,
  body: ProblemDetails,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  res.status(body.status);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('Content-Type', PROBLEM_JSON);
  res.end(JSON.stringify(body));
}

/** What a caller is told to wait while the database is unreachable (restarts take seconds). */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/** An error that writes its own answer (a refused token with its WWW-Authenticate challenge). */
export interface AnswersHttp {
  answerHttp(response: Response): void;
}

const answersHttp = (error: unknown): error is AnswersHttp =>
  typeof (error as Partial<AnswersHttp> | undefined)?.answerHttp === 'function';

/** Every error of a service's HTTP API as application/problem+json (RFC 9457). */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Http');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    if (answersHttp(exception)) {
      exception.answerHttp(host.switchToHttp().getResponse<Response>());
      return;
    }
    const body = toProblem(exception);
    // Only the error's kind and stack frames: a driver's message may quote the input.
    if (body.status >= 500) this.logger.error(safeErrorStack(exception));
    const headers: Record<string, string> = {};
    if (body.status === 503) headers['Retry-After'] = String(UNAVAILABLE_RETRY_AFTER_SECONDS);
    if (exception instanceof HttpException) {
      const retryAfter = (exception.getResponse() as { retryAfter?: unknown })?.retryAfter;
      if (typeof retryAfter === 'number') headers['Retry-After'] = String(retryAfter);
    }
    sendProblem(host.switchToHttp().getResponse<Response>(), body, headers);
  }
}
