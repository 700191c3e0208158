import { safeErrorText } from '@carerelay/persistence';
import { FhirRequestError, TokenRequestError } from '@carerelay/fhir-client';
import { CredentialsUnavailable } from '../registry/credentials-cipher';
import { OutboundRefused } from './fhir-clients';

/**
 * What the connector stores and answers about a failed pull or push (lastPollError, pull
 * refusals, a delivery's lastError) and logs: a fixed message with a category and a status code.
 * Never the remote side's text, nor that of a file or a key: those may carry whatever an EHR (or
 * someone posing as one) chose to send.
 */
export function failureOf(error: unknown): string {
  if (error instanceof FhirRequestError) {
    return error.status === 0
      ? 'FHIR request failed: server unreachable'
      : `FHIR request failed: HTTP ${error.status}`;
  }
  // fhir-kit-client's own errors (the raw client): { response: { status, data } }.
  const status = (error as { response?: { status?: unknown } } | undefined)?.response?.status;
  if (typeof status === 'number') return `FHIR request failed: HTTP ${status}`;
  if (error instanceof TokenRequestError) return `EHR token request failed: HTTP ${error.status}`;
  if (error instanceof CredentialsUnavailable) return 'EHR credentials unavailable';
  if (error instanceof OutboundRefused) return error.message;
  if (error instanceof TypeError && error.message === 'fetch failed')
    return 'request failed: server unreachable';
  if (error instanceof EndpointDisabled) return error.message;
  // A database error: its SQLSTATE and names, never the driver's message (it may quote values).
  if (safeErrorText(error).startsWith('database error')) return safeErrorText(error);
  // An error's own message may quote what it failed on (JSON.parse quotes its input).
  const name = error instanceof Error ? error.name : typeof error;
  return `internal error (${/^[A-Za-z]{1,40}$/.test(name) ? name : 'unknown'})`;
}

/** A delivery for an endpoint that has been disabled. */
export class EndpointDisabled extends Error {
  override name = 'EndpointDisabled';
  constructor() {
    super('endpoint disabled');
  }
}
