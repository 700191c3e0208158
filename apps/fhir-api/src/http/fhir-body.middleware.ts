import type { NextFunction, Request, Response } from 'express';
import { badRequest, FhirError, tooLarge, unsupportedMediaType } from '../fhir-lib';
import { sendFhirError } from './fhir-response';

const JSON_TYPES = new Set(['application/fhir+json', 'application/json', 'application/json+fhir']);
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
 * application/json) capped at `maxBytes` (413), parsed strictly (400 on malformed JSON), and the
 * form body of `POST [type]/_search`. Errors answer an OperationOutcome at once.
 */
export function fhirBodyMiddleware(maxBytes: number) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (req.method !== 'POST' && req.method !== 'PUT' && req.method !== 'PATCH') {
      next();
      return;
    }
    try {
      const type = mediaType(req);
      const isSearch = /\/_search\/?$/.test(req.path);
      if (isSearch) {
        if (type !== undefined && type !== FORM)
          throw unsupportedMediaType(`POST _search takes ${FORM}, not ${type}`);
        const raw = await readBody(req, maxBytes);
        (req as Request & { body: unknown }).body = new URLSearchParams(utf8(raw));
        next();
        return;
      }
      if (type === undefined || !JSON_TYPES.has(type)) {
        throw unsupportedMediaType(
          `Content-Type must be application/fhir+json (or application/json), not ${type ?? 'missing'}`,
        );
      }
      const raw = await readBody(req, maxBytes);
      let text = utf8(raw);
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text.trim() === '') throw badRequest('The request has no body', undefined, 'required');
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (error) {
        throw badRequest(
          `Malformed JSON: ${(error as Error).message.slice(0, 200)}`,
          undefined,
          'structure',
        );
      }
      (req as Request & { body: unknown }).body = body;
      next();
    } catch (error) {
      const fhirError =
        error instanceof FhirError ? error : badRequest('The body could not be read');
      // The rest of an oversized body is not read: close the connection after answering.
      sendFhirError(
        res,
        fhirError,
        fhirError.status === 413 || fhirError.status === 415 ? { Connection: 'close' } : {},
      );
    }
  };
}
