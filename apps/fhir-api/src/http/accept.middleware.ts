import type { NextFunction, Request, Response } from 'express';
import { notAcceptable } from '@carerelay/fhir';
import { sendFhirError } from './fhir-response';

/** The formats this server produces: FHIR JSON (and its older and generic names). */
const PRODUCED = ['application/fhir+json', 'application/json', 'application/json+fhir'];
const FORMAT_PARAMETER = new Set(['json', ...PRODUCED]);

/**
 * Content negotiation of every `/fhir` answer: 406 (an OperationOutcome, in JSON all the same)
 * when the Accept header admits none of the produced formats (`application/fhir+xml`,
 * `text/turtle`, …) or `_format` names another one. No Accept header, or `*∕*`, is JSON.
 */
export function acceptMiddleware() {
  return (req: Request, res: Response, next: NextFunction): void => {
    const q = req.originalUrl.indexOf('?');
    const format =
      q === -1 ? null : new URLSearchParams(req.originalUrl.slice(q + 1)).get('_format');
    if (format !== null && !FORMAT_PARAMETER.has(format.split(';')[0].trim().toLowerCase())) {
      sendFhirError(res, notAcceptable('_format: this server produces FHIR JSON only'));
      return;
    }
    if (req.headers.accept !== undefined && req.accepts(PRODUCED) === false) {
      sendFhirError(res, notAcceptable('Accept: this server produces application/fhir+json only'));
      return;
    }
    next();
  };
}
