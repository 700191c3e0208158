import type { NextFunction, Request, Response } from 'express';
import { FHIR_XML_MEDIA_TYPES, notAcceptable } from '@carerelay/fhir';
import { sendFhirError, setFhirFormat } from './fhir-response';

/** The formats this server produces: FHIR JSON (and its older and generic names), then FHIR XML. */
const JSON_TYPES = ['application/fhir+json', 'application/json', 'application/json+fhir'];
const PRODUCED = [...JSON_TYPES, ...FHIR_XML_MEDIA_TYPES];
const XML_PARAMETER = new Set(['xml', ...FHIR_XML_MEDIA_TYPES]);
const FORMAT_PARAMETER = new Set(['json', ...JSON_TYPES, ...XML_PARAMETER]);

/**
 * Content negotiation of every `/fhir` answer: `_format` (json, xml or a media type) wins over the
 * Accept header; no Accept header, or `*∕*`, is JSON. An answer in neither format (`text/turtle`,
 * …) is a 406 OperationOutcome in JSON.
 */
export function acceptMiddleware() {
  return (req: Request, res: Response, next: NextFunction): void => {
    const q = req.originalUrl.indexOf('?');
    const format =
      q === -1 ? null : new URLSearchParams(req.originalUrl.slice(q + 1)).get('_format');
    if (format !== null) {
      const asked = format.split(';')[0].trim().toLowerCase();
      if (!FORMAT_PARAMETER.has(asked)) {
        sendFhirError(res, notAcceptable('_format: this server produces FHIR JSON and FHIR XML'));
        return;
      }
      setFhirFormat(res, XML_PARAMETER.has(asked) ? 'xml' : 'json');
      next();
      return;
    }
    if (req.headers.accept !== undefined) {
      const best = req.accepts(PRODUCED);
      if (best === false) {
        sendFhirError(
          res,
          notAcceptable(
            'Accept: this server produces application/fhir+json and application/fhir+xml',
          ),
        );
        return;
      }
      setFhirFormat(res, FHIR_XML_MEDIA_TYPES.includes(best) ? 'xml' : 'json');
    }
    next();
  };
}
