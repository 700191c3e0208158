import { AdmissionGate } from '@carerelay/http';
import { admissionLaneOf, fhirAdmissionLimits } from './admission.middleware';

describe('admissionLaneOf', () => {
  const roles: Record<string, string> = {
    'platform-token': 'platform',
    'cbo-token': 'cbo',
    'coordinator-token': 'coordinator',
    'ehr-token': 'ehr',
  };
  const laneOf = admissionLaneOf({
    verifiedActor: (token) => (roles[token] ? { role: roles[token] } : undefined),
  });
  const request = (method: string, token?: string) => ({
    method,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });

  it('puts the platform first, whatever it sends', () => {
    expect(laneOf(request('POST', 'platform-token'))).toBe('platform');
    expect(laneOf(request('GET', 'platform-token'))).toBe('platform');
  });

  it("takes a CBO's or coordinator's requests as work under way, Bundles too", () => {
    for (const token of ['cbo-token', 'coordinator-token'])
      for (const method of ['POST', 'PUT', 'GET'])
        expect(laneOf(request(method, token))).toBe('under-way');
  });

  it("takes an EHR's POST as new work, and its reads and updates as work under way", () => {
    expect(laneOf(request('POST', 'ehr-token'))).toBe('new');
    for (const method of ['GET', 'PUT', 'PATCH', 'DELETE'])
      expect(laneOf(request(method, 'ehr-token'))).toBe('under-way');
  });

  it('goes by the method alone for a token not verified before, or without tokens', () => {
    expect(laneOf(request('POST', 'unknown-token'))).toBe('new');
    expect(laneOf(request('GET', 'unknown-token'))).toBe('under-way');
    expect(admissionLaneOf(undefined)(request('POST', 'platform-token'))).toBe('new');
    expect(admissionLaneOf(undefined)(request('GET'))).toBe('under-way');
  });
});

describe('fhirAdmissionLimits', () => {
  const settings = {
    FHIR_MAX_IN_FLIGHT: 28,
    FHIR_MAX_QUEUED: 64,
    FHIR_MAX_QUEUE_WAIT_MS: 50,
    FHIR_UNDER_WAY_QUEUE_WAIT_MS: 1000,
    FHIR_ADMISSION_RESERVED_FOR_PLATFORM: 8,
    FHIR_ADMISSION_RESERVED_FOR_UNDER_WAY: 4,
  };

  it('orders the lanes platform, under way, new, with their reserves and waits', () => {
    expect(fhirAdmissionLimits(settings)).toEqual({
      maxInFlight: 28,
      maxQueued: 64,
      lanes: [
        { maxWaitMs: 1000, reserved: 8 },
        { maxWaitMs: 1000, reserved: 4 },
        { maxWaitMs: 50 },
      ],
    });
  });

  it('cuts the reserves so that new work keeps a slot, however small the limit', () => {
    for (const max of [1, 2, 5, 12, 13]) {
      const limits = fhirAdmissionLimits({ ...settings, FHIR_MAX_IN_FLIGHT: max });
      const reserved = limits.lanes.reduce((sum, lane) => sum + (lane.reserved ?? 0), 0);
      expect({ max, left: max - reserved }).toEqual({ max, left: Math.max(1, max - 12) });
      expect(() => new AdmissionGate(limits)).not.toThrow();
    }
  });
});
