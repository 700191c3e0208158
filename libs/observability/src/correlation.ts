import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';

/**
 * The correlation id of CareRelay is a W3C `traceparent` (version-traceid-parentid-flags). The
 * FHIR API takes it from the request (or makes one), answers it as a response header, logs it on
 * the request line and puts it on every `fhir.changes.v1` event the request causes; the services
 * pass it on with every event they emit, and log it with every event they handle.
 */
export const TRACEPARENT_HEADER = 'traceparent';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A well-formed traceparent (version not ff, trace and parent ids not all zeros). */
export function isTraceparent(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const match = TRACEPARENT.exec(value);
  return match !== null && match[1] !== 'ff' && !/^0+$/.test(match[2]) && !/^0+$/.test(match[3]);
}

/** A fresh traceparent: random trace id and parent id, sampled. */
export function newTraceparent(): string {
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
}

/** The trace id of a traceparent (the part that stays the same across hops). */
export const traceIdOf = (traceparent: string): string | undefined =>
  TRACEPARENT.exec(traceparent)?.[2];

interface CorrelationContext {
  traceparent: string;
}

const context = new AsyncLocalStorage<CorrelationContext>();

/** The traceparent of the request being handled, if any (read by the FHIR API's store). */
export function currentTraceparent(): string | undefined {
  return context.getStore()?.traceparent;
}

/** Runs `fn` (and everything it awaits) with `traceparent` as the current correlation id. */
export function withTraceparent<T>(traceparent: string, fn: () => T): T {
  return context.run({ traceparent }, fn);
}

type Request = IncomingMessage & { originalUrl?: string; url?: string };

export interface RequestLoggerOptions {
  /** Paths not logged (health checks and metrics scrapes by default). */
  ignore?: RegExp;
  /** Who made the request, read when it finishes (after the auth guard ran). */
  identify?: (request: Request) => Record<string, unknown> | undefined;
}

/** `/fhir/Task/abc/_history/2` -> `Task/abc`: makes a resource (a referral's Task) greppable. */
export function resourceOfPath(path: string): string | undefined {
  const match = /\/fhir\/([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/|$)/.exec(path);
  return match ? `${match[1]}/${match[2]}` : undefined;
}

/**
 * Express middleware: one JSON line per HTTP request (method, path without the query string —
 * search parameters may carry patient data —, status, ms, the client and organization, the
 * resource in the path or the Location answered, the traceparent), the traceparent answered as a
 * response header and made current for everything the request runs.
 */
export function requestLogger(logger: Logger, options: RequestLoggerOptions = {}) {
  const ignore = options.ignore ?? /^\/(health|metrics)(\/|$|\?)/;
  return (request: Request, response: ServerResponse, next: () => void): void => {
    const url = request.originalUrl ?? request.url ?? '/';
    const incoming = request.headers[TRACEPARENT_HEADER];
    const traceparent = isTraceparent(incoming) ? incoming : newTraceparent();
    response.setHeader(TRACEPARENT_HEADER, traceparent);
    if (ignore.test(url)) {
      withTraceparent(traceparent, next);
      return;
    }
    const started = process.hrtime.bigint();
    const path = url.split('?')[0];
    let logged = false;
    const done = () => {
      if (logged) return;
      logged = true;
      const status = response.writableFinished ? response.statusCode : 499;
      const location = response.getHeader('location');
      const entry = {
        msg: 'request',
        method: request.method,
        path,
        status,
        ms: Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10,
        ...options.identify?.(request),
        resource: resourceOfPath(path),
        location: typeof location === 'string' ? location : undefined,
        traceparent,
        ...(incoming !== undefined && incoming !== traceparent
          ? { invalidTraceparent: String(incoming).slice(0, 100) }
          : {}),
      };
      if (status >= 500) logger.error(entry);
      else logger.info(entry);
    };
    response.once('finish', done);
    response.once('close', done);
    withTraceparent(traceparent, next);
  };
}
