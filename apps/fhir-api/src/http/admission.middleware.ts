import type { NextFunction, Request, Response } from 'express';
import { Counter, Gauge } from 'prom-client';
import { AdmissionGate, type AdmissionLimits } from '@carerelay/http';
import { serviceUnavailable } from '@carerelay/fhir';
import { metricsRegistry } from '@carerelay/observability';
import { sendFhirError } from './fhir-response';

const refusedTotal = new Counter({
  name: 'carerelay_fhir_admission_refused_total',
  help: 'FHIR requests refused (503) because the server was at its admission limits',
  registers: [metricsRegistry],
});

// Every gate of this process (tests start several apps in one), held weakly: a closed app's
// gate goes with its middleware instead of staying in the sums for the life of the process.
const gates = new Set<WeakRef<AdmissionGate>>();
const sum = (of: (gate: AdmissionGate) => number) => {
  let total = 0;
  for (const ref of gates) {
    const gate = ref.deref();
    if (gate) total += of(gate);
    else gates.delete(ref);
  }
  return total;
};
new Gauge({
  name: 'carerelay_fhir_requests_in_flight',
  help: 'FHIR requests being served',
  registers: [metricsRegistry],
  collect() {
    this.set(sum((gate) => gate.active));
  },
});
new Gauge({
  name: 'carerelay_fhir_requests_queued',
  help: 'FHIR requests waiting for admission',
  registers: [metricsRegistry],
  collect() {
    this.set(sum((gate) => gate.waiting));
  },
});

/** Seconds a refused client is told to wait: load sheds in about a second. */
export const ADMISSION_RETRY_AFTER_SECONDS = 1;

/** A refused body up to this size is read and dropped; a larger one closes the connection. */
export const REFUSED_BODY_DISCARD_BYTES = 1024 * 1024;

/**
 * Whether a refused request's unread body is small enough to read and drop (Node does so once the
 * answer is sent), so that the connection stays open for the client's retry. Closing it instead
 * made a client still sending its body see the connection reset rather than the 503, and made
 * every retry open a new connection on a server already short of time.
 */
function discardsBody(request: Request): boolean {
  if (request.headers['transfer-encoding'] !== undefined) return false;
  const length = Number(request.headers['content-length'] ?? 0);
  return Number.isSafeInteger(length) && length <= REFUSED_BODY_DISCARD_BYTES;
}

/**
 * Admission control in front of every FHIR route: over the limits a request gets 503 with
 * Retry-After at once, before its body is parsed, instead of joining an unbounded queue. Requests
 * `isPriority` picks (read from headers only: the body is not read yet) take the gate's
 * priority lane.
 */
export function admissionMiddleware(
  limits: AdmissionLimits,
  isPriority: (request: Request) => boolean = () => false,
) {
  const gate = new AdmissionGate(limits);
  gates.add(new WeakRef(gate));

  return async (request: Request, response: Response, next: NextFunction): Promise<void> => {
    if (!(await gate.enter(isPriority(request)))) {
      refusedTotal.inc();
      sendFhirError(response, serviceUnavailable('The server is busy; retry later'), {
        'Retry-After': String(ADMISSION_RETRY_AFTER_SECONDS),
        ...(discardsBody(request) ? {} : { Connection: 'close' }),
      });
      return;
    }
    let left = false;
    const leave = () => {
      if (left) return;
      left = true;
      gate.leave();
    };
    response.once('finish', leave);
    response.once('close', leave);
    next();
  };
}

/**
 * A request of the platform's own services, known by a bearer token this process has verified
 * before (the first request of a token goes in as any other).
 */
export function platformRequest(tokens: {
  verifiedActor(token: string): { role: string } | undefined;
}): (request: Request) => boolean {
  return (request) => {
    const header = request.headers.authorization;
    if (!header?.startsWith('Bearer ')) return false;
    return tokens.verifiedActor(header.slice(7).trim())?.role === 'platform';
  };
}
