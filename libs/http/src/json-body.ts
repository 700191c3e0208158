import {
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { json } from 'express';
import type { Observable } from 'rxjs';
import { DEFAULT_MAX_JSON_DEPTH, findUnsafeJson, unsafeTextProblem } from './safe-json';
import { problem, sendProblem, type ProblemDetails } from './problem-details';

export interface JsonBodyOptions {
  /** The largest body taken, as body-parser spells it ('100kb', '5mb'). */
  limit?: string | number;
  maxDepth?: number;
  /** Paths (exact, without the query) that take another limit, e.g. a whole-document import. */
  routes?: Array<{ path: string; limit: string | number }>;
}

/** A body refused before any handler: its problem document, answered as it is. */
export class BodyRefused extends Error {
  override name = 'BodyRefused';
  constructor(
    readonly problem: ProblemDetails,
    readonly headers: Record<string, string> = {},
  ) {
    super(problem.detail);
  }

  answerHttp(response: Response): void {
    sendProblem(response, this.problem, this.headers);
  }
}

/**
 * Reads and parses a request's JSON body: body-parser's, with its errors (malformed JSON, too
 * large, unsupported charset) and a parsed body holding NUL characters, lone surrogates or a
 * hostile nesting depth refused as BodyRefused (400, 413, 415) before any pipe, handler or
 * database sees it.
 */
export function jsonBodyReader(options: JsonBodyOptions = {}) {
  const limit = options.limit ?? '100kb';
  // FHIR's own media type too: an EHR's rest-hook notification is application/fhir+json.
  const type = ['application/json', 'application/fhir+json'];
  const parsers = new Map<string, { parse: ReturnType<typeof json>; limit: string | number }>(
    (options.routes ?? []).map((r) => [
      r.path,
      { parse: json({ limit: r.limit, type }), limit: r.limit },
    ]),
  );
  const general = { parse: json({ limit, type }), limit };
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_JSON_DEPTH;
  return (req: Request, res: Response): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const { parse, limit: bodyLimit } = parsers.get(req.path) ?? general;
      parse(req, res, (error?: unknown) => {
        if (error) {
          const status = Number((error as { status?: unknown }).status);
          const type = (error as { type?: unknown }).type;
          const detail =
            type === 'entity.too.large'
              ? `The body is larger than ${String(bodyLimit)}.`
              : type === 'entity.parse.failed'
                ? 'The body is not well-formed JSON.'
                : 'The body could not be read.';
          const code = status >= 400 && status < 500 ? status : 400;
          reject(
            new BodyRefused(problem(code, detail), code === 413 ? { Connection: 'close' } : {}),
          );
          return;
        }
        const unsafe = findUnsafeJson(req.body, maxDepth);
        if (unsafe) {
          reject(
            new BodyRefused(
              problem(400, `The body at ${unsafe.path.slice(0, 200)} ${unsafe.problem}.`),
            ),
          );
          return;
        }
        resolve();
      });
    });
}

/**
 * Parses the body once the route's guards have let the caller in: a caller without a token, or
 * of a role the route refuses, is answered before a byte of its body is read (Nest runs guards,
 * then interceptors, then pipes; requests for no route never get here).
 */
@Injectable()
export class JsonBodyInterceptor implements NestInterceptor {
  private readonly read: (req: Request, res: Response) => Promise<void>;

  constructor(options: JsonBodyOptions = {}) {
    this.read = jsonBodyReader(options);
  }

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    if (context.getType() === 'http') {
      const http = context.switchToHttp();
      await this.read(http.getRequest<Request>(), http.getResponse<Response>());
    }
    return next.handle();
  }
}

/** Refuses a URL whose decoded path or query holds what no honest client sends (400). */
export function safeUrl() {
  return (req: Request, res: Response, next: NextFunction): void => {
    const queryProblem = unsafeQueryProblem(req.originalUrl ?? req.url);
    if (queryProblem) {
      sendProblem(res, problem(400, `The URL ${queryProblem}.`));
      return;
    }
    next();
  };
}

/** A problem of the URL's path or query once percent-decoded (undefined when none). */
export function unsafeQueryProblem(url: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(url.replace(/\+/g, ' '));
  } catch {
    return 'is not well-formed percent-encoded UTF-8';
  }
  return unsafeTextProblem(decoded);
}
