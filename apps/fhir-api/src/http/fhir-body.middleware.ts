import type { NextFunction, Request, Response } from 'express';
import { findUnsafeJson, unsafeQueryProblem } from '@carerelay/http';
import {
  badRequest,
  FHIR_XML_MEDIA_TYPES,
  FhirError,
  fhirXmlToJson,
  JSON_PATCH_MEDIA_TYPE,
  tooLarge,
  unsupportedMediaType,
} from '@carerelay/fhir';

/**
 * Where the middleware leaves the refusal of a request's input: it is thrown after the auth
 * guard (RefusedInputInterceptor), so that the refusal is answered and audited like any other.
 */
export const REFUSED_INPUT = Symbol('REFUSED_INPUT');
export type RequestWithRefusal = Request & { [REFUSED_INPUT]?: FhirError };

/** The deepest FHIR JSON taken: far deeper than any resource CareRelay handles. */
export const MAX_FHIR_JSON_DEPTH = 100;

const JSON_TYPES = new Set(['application/fhir+json', 'application/json', 'application/json+fhir']);
const XML_TYPES = new Set(FHIR_XML_MEDIA_TYPES);
const FHIRPATH_PATCH_TYPES = new Set(['application/fhir+json', 'application/json', ...XML_TYPES]);
const FORM = 'application/x-www-form-urlencoded';

function mediaType(req: Request): string | undefined {
  const header = req.headers['content-type'];
  return header ? header.split(';')[0].trim().toLowerCase() : undefined;
}

/** UTF-8 as sent or a 400: a decoder that replaced bad bytes with U+FFFD would store altered data. */
function utf8(raw: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw);
  } catch {
    throw badRequest('The body is not valid UTF-8', undefined, 'structure');
  }
}

function readBody(req: Request, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      reject(tooLarge(`The body is larger than ${maxBytes} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > maxBytes) {
        done = true;
        reject(tooLarge(`The body is larger than ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks));
      }
    });
    req.on('error', (error) => {
      if (!done) {
        done = true;
        reject(badRequest(`The body could not be read: ${error.message}`));
      }
    });
  });
}

/**
 * Reads request bodies of the FHIR API itself: FHIR JSON (application/fhir+json or
 * application/json), FHIR XML (application/fhir+xml, converted to FHIR JSON before any check), or
 * for PATCH a JSON Patch document or a FHIRPath Patch (Parameters, JSON or XML), capped at
 * `maxBytes` (XML at `maxXmlBytes`; 413), parsed strictly (400 on malformed JSON or XML), and the
 * form body of `POST [type]/_search`. A URL, search value or body with a NUL character, an
 * unpaired surrogate or a hostile depth is refused (400) before it reaches the store. Refusals
 * are left on the request (REFUSED_INPUT) for RefusedInputInterceptor.
 */
export function fhirBodyMiddleware(maxBytes: number, maxXmlBytes = maxBytes) {
  return async (req: Request, _res: Response, next: NextFunction): Promise<void> => {
    try {
      const urlProblem = unsafeQueryProblem(req.originalUrl ?? req.url);
      if (urlProblem) throw badRequest(`The URL ${urlProblem}`, undefined, 'value');
      if (req.method !== 'POST' && req.method !== 'PUT' && req.method !== 'PATCH') {
        next();
        return;
      }
      const type = mediaType(req);
      const isSearch = /\/_search\/?$/.test(req.path);
      if (isSearch) {
        if (type !== undefined && type !== FORM)
          throw unsupportedMediaType(`POST _search takes ${FORM}, not ${type}`);
        const raw = await readBody(req, maxBytes);
        const form = new URLSearchParams(utf8(raw));
        const unsafe = findUnsafeJson(Object.fromEntries(form.entries()));
        if (unsafe) throw badRequest(`A search parameter ${unsafe.problem}`, undefined, 'value');
        (req as Request & { body: unknown }).body = form;
        next();
        return;
      }
      if (req.method === 'PATCH') {
        if (type !== JSON_PATCH_MEDIA_TYPE && !FHIRPATH_PATCH_TYPES.has(type ?? ''))
          throw unsupportedMediaType(
            `PATCH takes a JSON Patch document (Content-Type ${JSON_PATCH_MEDIA_TYPE}) or a FHIRPath Patch (Parameters as application/fhir+json or application/fhir+xml), not ${type ?? 'missing'}`,
          );
      } else if (type === undefined || (!JSON_TYPES.has(type) && !XML_TYPES.has(type))) {
        throw unsupportedMediaType(
          `Content-Type must be application/fhir+json or application/fhir+xml, not ${type ?? 'missing'}`,
        );
      }
      // XML is converted synchronously (FHIR.js), about 1.5 ms per KB here: its own, lower cap
      // keeps one large XML body from holding the event loop for seconds.
      const raw = await readBody(
        req,
        XML_TYPES.has(type ?? '') ? Math.min(maxBytes, maxXmlBytes) : maxBytes,
      );
      let text = utf8(raw);
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text.trim() === '') throw badRequest('The request has no body', undefined, 'required');
      let body: unknown;
      try {
        body = XML_TYPES.has(type!) ? fhirXmlToJson(text) : JSON.parse(text);
      } catch (error) {
        if (error instanceof FhirError) throw error;
        throw badRequest(
          `Malformed JSON: ${(error as Error).message.slice(0, 200)}`,
          undefined,
          'structure',
        );
      }
      const unsafe = findUnsafeJson(body, MAX_FHIR_JSON_DEPTH);
      if (unsafe) throw badRequest(`The body at ${unsafe.path.slice(0, 200)} ${unsafe.problem}`);
      // The patch's kind follows its media type: a JSON Patch is an array, a FHIRPath Patch a
      // Parameters resource, so the interaction can tell one from the other by its shape.
      if (req.method === 'PATCH' && type === JSON_PATCH_MEDIA_TYPE && !Array.isArray(body))
        throw badRequest('A JSON Patch document is an array of operations', undefined, 'structure');
      if (
        req.method === 'PATCH' &&
        type !== JSON_PATCH_MEDIA_TYPE &&
        (body as { resourceType?: unknown } | null)?.resourceType !== 'Parameters'
      )
        throw badRequest('A FHIRPath Patch is a Parameters resource', undefined, 'structure');
      (req as Request & { body: unknown }).body = body;
      next();
    } catch (error) {
      (req as RequestWithRefusal)[REFUSED_INPUT] =
        error instanceof FhirError ? error : badRequest('The body could not be read');
      next();
    }
  };
}
