import type { Response } from 'express';
import type { Resource } from '@medplum/fhirtypes';
import { FhirError } from '@carerelay/fhir';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** Writes a FHIR JSON body (or none) with the FHIR content type. */
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
