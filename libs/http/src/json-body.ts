import type { NextFunction, Request, Response } from 'express';
import { json } from 'express';
import { DEFAULT_MAX_JSON_DEPTH, findUnsafeJson, unsafeTextProblem } from './safe-json';
import { problem, sendProblem } from './problem-details';

export interface JsonBodyOptions {
  /** The largest body taken, as body-parser spells it ('100kb', '5mb'). */
  limit?: string | number;
  maxDepth?: number;
  /** Paths (exact, without the query) that take another limit, e.g. a whole-document import. */
  routes?: Array<{ path: string; limit: string | number }>;
}

/**
 * The JSON body parser of a service's HTTP API: body-parser's, with its errors (malformed JSON,
 * too large, unsupported charset) answered as problem+json, and a parsed body or query string
 * holding NUL characters, lone surrogates or a hostile nesting depth refused with a 400 before
 * any handler, pipe or database sees it.
 */
export function jsonBody(options: JsonBodyOptions = {}) {
  const limit = options.limit ?? '100kb';
  const parsers = new Map<string, { parse: ReturnType<typeof json>; limit: string | number }>(
    (options.routes ?? []).map((r) => [
      r.path,
      { parse: json({ limit: r.limit }), limit: r.limit },
    ]),
  );
  const general = { parse: json({ limit }), limit };
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_JSON_DEPTH;
  return (req: Request, res: Response, next: NextFunction): void => {
    const { parse, limit: bodyLimit } = parsers.get(req.path) ?? general;
    const queryProblem = unsafeQueryProblem(req.originalUrl ?? req.url);
    if (queryProblem) {
      sendProblem(res, problem(400, `The URL ${queryProblem}.`));
      return;
    }
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
        sendProblem(res, problem(code, detail), code === 413 ? { Connection: 'close' } : {});
        return;
      }
      const unsafe = findUnsafeJson(req.body, maxDepth);
      if (unsafe) {
        sendProblem(
          res,
          problem(400, `The body at ${unsafe.path.slice(0, 200)} ${unsafe.problem}.`),
        );
        return;
      }
      next();
    });
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
