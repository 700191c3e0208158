import type { NextFunction, Request, Response } from 'express';
import { Counter, Gauge } from 'prom-client';
import { AdmissionGate, type AdmissionLimits } from '@carerelay/http';
import { serviceUnavailable } from '@carerelay/fhir';
import { metricsRegistry } from '@carerelay/observability';
import { sendFhirError } from './fhir-response';

const refusedTotal = new Counter({
  name: 'carerelay_fhir_admission_refused_total',
  help: 'FHIR requests refused (503) because the server was at its admission limits, by lane',
  labelNames: ['lane'],
  registers: [metricsRegistry],
});

/**
 * The FHIR API's admission lanes, first served first: the platform's own services (a referral's
 * next step), then other work under way (a case manager's update, an EHR reading its referral),
 * then new work (an EHR's referral Bundle), which is what overload refuses first.
 */
export const ADMISSION_LANES = ['platform', 'under-way', 'new'] as const;
export type AdmissionLaneName = (typeof ADMISSION_LANES)[number];

export interface FhirAdmissionSettings {
  FHIR_MAX_IN_FLIGHT: number;
  FHIR_MAX_QUEUED: number;
  FHIR_MAX_QUEUE_WAIT_MS: number;
  FHIR_UNDER_WAY_QUEUE_WAIT_MS: number;
  FHIR_ADMISSION_RESERVED_FOR_PLATFORM: number;
  FHIR_ADMISSION_RESERVED_FOR_UNDER_WAY: number;
}

/** The gate's limits from the settings; reserves are cut so that new work keeps one slot. */
export function fhirAdmissionLimits(settings: FhirAdmissionSettings): AdmissionLimits {
  const max = settings.FHIR_MAX_IN_FLIGHT;
  const platform = Math.min(settings.FHIR_ADMISSION_RESERVED_FOR_PLATFORM, max - 1);
  const underWay = Math.min(settings.FHIR_ADMISSION_RESERVED_FOR_UNDER_WAY, max - 1 - platform);
  const waitUnderWay = settings.FHIR_UNDER_WAY_QUEUE_WAIT_MS;
  return {
    maxInFlight: max,
    maxQueued: settings.FHIR_MAX_QUEUED,
    lanes: [
      { maxWaitMs: waitUnderWay, reserved: platform },
      { maxWaitMs: waitUnderWay, reserved: underWay },
      { maxWaitMs: settings.FHIR_MAX_QUEUE_WAIT_MS },
    ],
  };
}

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
 * Retry-After at once, before its body is parsed, instead of joining an unbounded queue. `laneOf`
 * (reading headers only: the body is not read yet) picks the lane of ADMISSION_LANES.
 */
export function admissionMiddleware(
  limits: AdmissionLimits,
  laneOf: (request: Request) => AdmissionLaneName,
) {
  const gate = new AdmissionGate(limits);
  gates.add(new WeakRef(gate));

  return async (request: Request, response: Response, next: NextFunction): Promise<void> => {
    const lane = laneOf(request);
    if (!(await gate.enter(ADMISSION_LANES.indexOf(lane)))) {
      refusedTotal.inc({ lane });
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
 * The lane of a request, from its method and its caller's role. The role is known by a bearer
 * token this process has verified before (`tokens` undefined: none is known, as without auth); a
 * token's first request goes by its method alone. A POST is new work unless a CBO, a coordinator
 * or the platform sends it: an EHR's referral Bundle or create, a token request, a caller not yet
 * known. Reads, searches, updates and deletes act on what is already there.
 */
export function admissionLaneOf(
  tokens: { verifiedActor(token: string): { role: string } | undefined } | undefined,
): (request: Pick<Request, 'method' | 'headers'>) => AdmissionLaneName {
  return (request) => {
    const header = request.headers.authorization;
    const role = header?.startsWith('Bearer ')
      ? tokens?.verifiedActor(header.slice(7).trim())?.role
      : undefined;
    if (role === 'platform') return 'platform';
    if (role === 'cbo' || role === 'coordinator') return 'under-way';
    return request.method === 'POST' ? 'new' : 'under-way';
  };
}
