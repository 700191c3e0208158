import type { Response } from 'express';
import type { Resource } from '@medplum/fhirtypes';
import { FhirError, fhirJsonToXml } from '@carerelay/fhir';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';
export const FHIR_XML = 'application/fhir+xml; charset=utf-8';

export type FhirFormat = 'json' | 'xml';

/** The format content negotiation chose for this response (acceptMiddleware); JSON by default. */
export function setFhirFormat(res: Response, format: FhirFormat): void {
  res.locals.fhirFormat = format;
}

function fhirFormatOf(res: Response): FhirFormat {
  return res.locals?.fhirFormat === 'xml' ? 'xml' : 'json';
}

/** The resource as FHIR XML; undefined if the converter cannot write it (then it leaves as JSON). */
function asXml(body: Resource): string | undefined {
  try {
    return fhirJsonToXml(body);
  } catch {
    return undefined;
  }
}

/** Writes a FHIR body (or none) in the negotiated format, with its FHIR content type. */
export function sendFhir(
  res: Response,
  status: number,
  body?: Resource,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  res.status(status);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  if (body === undefined || status === 204) {
    res.end();
    return;
  }
  if (fhirFormatOf(res) === 'xml') {
    const xml = asXml(body);
    if (xml !== undefined) {
      res.setHeader('Content-Type', FHIR_XML);
      res.end(xml);
      return;
    }
  }
  res.setHeader('Content-Type', FHIR_JSON);
  res.end(JSON.stringify(body));
}

/** Every error leaves as an OperationOutcome with its status. */
export function sendFhirError(
  res: Response,
  error: FhirError,
  headers: Record<string, string> = {},
): void {
  sendFhir(res, error.status, error.toOperationOutcome(), headers);
}
