// 42 CFR Part 2, sensitivity labels and purpose of use when a CBO reads, on the real server with
// real SMART tokens and fhir-kit-client as the CBO: data labelled in meta.security is disclosed
// only when the patient's consent covers that label for the CBO, a purpose-limited consent only
// for a token stating that purpose, a label-scoped deny withholds only the labelled data, and
// withheld data answers 404 (read) or is left out (search, total) without saying why; the
// AuditEvent says why. Part 2 data that is disclosed carries NORDSCLCD.
import type { AuditEvent, Bundle, Coding, Consent, Observation, Task } from '@medplum/fhirtypes';
import { FhirRequestError } from '@carerelay/fhir-client';
import {
  bearer,
  http,
  registerClient,
  routedReferral,
  type RoutedReferral,
  startTestFhirApi,
  type TestClient,
  type TestFhirApi,
} from './fhir-api.harness';

const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const PART2: Coding = { system: ACT_CODE, code: '42CFRPart2' };
const PSY: Coding = { system: ACT_CODE, code: 'PSY' };
const ETH: Coding = { system: ACT_CODE, code: 'ETH' };
const IRCP = {
  coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }],
};
const CBO = 'cbo-labels';

describe('consent labels and purpose of use applied to CBO reads', () => {
  jest.setTimeout(120_000);
  let api: TestFhirApi;
  let ehr: TestClient;
  let platform: TestClient;
  let cbo: TestClient;
  let coordinator: TestClient;

  beforeAll(async () => {
    api = await startTestFhirApi({ FHIR_AUTH_DISABLED: 'false' });
    ehr = await registerClient(api, 'ehr', 'hospital-labels', 'RS384');
    platform = await registerClient(api, 'platform', 'platform-labels', 'ES384');
    cbo = await registerClient(api, 'cbo', CBO, 'ES384');
    coordinator = await registerClient(api, 'coordinator', 'coordinators-labels', 'ES384');
  });
  afterAll(async () => {
    await api?.close();
  });

  /** The referral's Consent put in force, with this provision (the CBO named as recipient). */
  async function consentInForce(referral: RoutedReferral, provision: Consent['provision']) {
    await ehr
      .fhir()
      .updateWithIfMatch<Consent & { id: string }>('Consent', referral.consent, (c) => ({
        ...c,
        status: 'active',
        provision,
      }));
  }

  /** An Observation about the patient, performed by the CBO (so within its visibility). */
  async function observation(referral: RoutedReferral, ...security: Coding[]): Promise<string> {
    const created = await platform.fhir().create<Observation & { id?: string }>({
      resourceType: 'Observation',
      ...(security.length > 0 ? { meta: { security } } : {}),
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '88122-7' }] },
      subject: { reference: `Patient/${referral.patient}` },
      performer: [{ reference: `Organization/${CBO}` }],
      valueCodeableConcept: { text: 'at risk' },
    });
    return created.id!;
  }

  const statusOf = async (run: () => Promise<unknown>): Promise<number> => {
    try {
      await run();
      return 200;
    } catch (error) {
      if (error instanceof FhirRequestError) return error.status;
      throw error;
    }
  };
  const searchOf = async (
    fhir: ReturnType<TestClient['fhir']>,
    type: string,
    params: Record<string, string>,
  ) => (await fhir.search(type, params)) as unknown as Bundle;
  const ids = (bundle: Bundle) => (bundle.entry ?? []).map((e) => e.resource!.id).sort();
  const codes = (o: { meta?: { security?: Coding[] } }) =>
    (o.meta?.security ?? []).map((c) => c.code).sort();
  const auditOf = async (reference: string): Promise<AuditEvent[]> => {
    const answer = await http(
      api.baseUrl,
      'GET',
      `/AuditEvent?entity=${reference}&agent=${cbo.clientId}`,
      undefined,
      bearer(await coordinator.token('system/*.rs')),
    );
    return (answer.body as Bundle).entry!.map((e) => e.resource as AuditEvent);
  };

  describe('(a) an Observation labelled 42CFRPart2', () => {
    let referral: RoutedReferral;
    let plain: string;
    let part2: string;

    beforeAll(async () => {
      referral = await routedReferral('labels-part2', ehr, platform, CBO);
      await consentInForce(referral, {
        type: 'permit',
        actor: [{ role: IRCP, reference: { reference: `Organization/${CBO}` } }],
      });
      plain = await observation(referral);
      part2 = await observation(referral, PART2);
    });

    it('is hidden from the CBO while the consent does not cover Part 2 data: 404, not in searches', async () => {
      const fhir = cbo.fhir('system/*.rs');
      expect(await statusOf(() => fhir.read('Observation', plain))).toBe(200);
      expect(await statusOf(() => fhir.read('Observation', part2))).toBe(404);
      const vread = await http(
        api.baseUrl,
        'GET',
        `/Observation/${part2}/_history/1`,
        undefined,
        bearer(await cbo.token('system/*.rs')),
      );
      expect(vread.status).toBe(404);
      // The answer is the one an unknown id gets: nothing about consent, labels or SUD data.
      expect(vread.text).not.toMatch(/consent|label|42CFR|Part ?2/i);
      const search = await searchOf(fhir, 'Observation', {
        subject: `Patient/${referral.patient}`,
      });
      expect(ids(search)).toEqual([plain]);
      expect(search.total).toBe(1);
      const byId = await searchOf(fhir, 'Observation', { _id: part2 });
      expect(byId.total).toBe(0);
      expect(byId.entry).toBeUndefined();
      const counted = await searchOf(fhir, 'Observation', {
        subject: `Patient/${referral.patient}`,
        _summary: 'count',
      });
      expect(counted.total).toBe(1);
      const history = async (path: string) =>
        http(api.baseUrl, 'GET', path, undefined, bearer(await cbo.token('system/*.rs')));
      expect((await history(`/Observation/${part2}/_history`)).status).toBe(404);
      const typeHistory = (await history('/Observation/_history')).body as Bundle;
      expect(ids(typeHistory)).not.toContain(part2);
      expect(typeHistory.total).toBe(typeHistory.entry!.length);
      // The EHR and the platform are not gated by it.
      expect(await statusOf(() => platform.fhir().read('Observation', part2))).toBe(200);
    });

    it('audits the withheld read with the reason the client was not told', async () => {
      const events = await auditOf(`Observation/${part2}`);
      const read = events.find((e) => e.subtype?.[0].code === 'read');
      expect(read).toMatchObject({ outcome: '4' });
      expect(read!.outcomeDesc).toContain('labels-not-covered');
      const entity = read!.entity!.find((e) =>
        e.what?.reference?.startsWith(`Observation/${part2}`),
      );
      expect(entity!.detail![0]).toMatchObject({
        type: 'consent-decision',
        valueString: expect.stringContaining('withheld (labels-not-covered'),
      });
      expect(entity!.securityLabel).toEqual([{ code: '42CFRPart2' }]);
    });

    it('is disclosed once the consent covers Part 2 data, with the prohibition on redisclosure', async () => {
      await consentInForce(referral, {
        type: 'permit',
        actor: [{ role: IRCP, reference: { reference: `Organization/${CBO}` } }],
        securityLabel: [PART2],
      });
      const fhir = cbo.fhir('system/*.rs');
      const read = await fhir.read<Observation & { id: string }>('Observation', part2);
      expect(codes(read)).toEqual(['42CFRPart2', 'NORDSCLCD']);
      expect(read.meta!.security).toContainEqual(
        expect.objectContaining({ system: ACT_CODE, code: 'NORDSCLCD' }),
      );
      const search = await searchOf(fhir, 'Observation', {
        subject: `Patient/${referral.patient}`,
      });
      expect(ids(search)).toEqual([plain, part2].sort());
      expect(search.total).toBe(2);
      const shown = search.entry!.map((e) => e.resource as Observation);
      expect(codes(shown.find((o) => o.id === part2)!)).toEqual(['42CFRPart2', 'NORDSCLCD']);
      expect(codes(shown.find((o) => o.id === plain)!)).toEqual([]);
      // Stored as written: the label is added to what is disclosed, not to the data.
      const stored = await platform.fhir().read<Observation & { id: string }>('Observation', part2);
      expect(codes(stored)).toEqual(['42CFRPart2']);
      const events = await auditOf(`Observation/${part2}`);
      expect(
        events.some((e) =>
          e.entity?.some((x) =>
            x.detail?.some((d) => d.valueString?.startsWith('disclosed (permitted')),
          ),
        ),
      ).toBe(true);
    });
  });

  describe('(b) a consent permitting only research (HRESCH)', () => {
    let referral: RoutedReferral;
    let obs: string;

    beforeAll(async () => {
      referral = await routedReferral('labels-purpose', ehr, platform, CBO);
      await consentInForce(referral, {
        type: 'permit',
        actor: [{ role: IRCP, reference: { reference: `Organization/${CBO}` } }],
        purpose: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'HRESCH' }],
      });
      obs = await observation(referral);
    });

    it('refuses the patient data to a CBO token of the default purpose (TREAT): 404, redacted Task', async () => {
      const fhir = cbo.fhir('system/*.rs');
      expect(await statusOf(() => fhir.read('Patient', referral.patient))).toBe(404);
      expect(await statusOf(() => fhir.read('Observation', obs))).toBe(404);
      expect(await statusOf(() => fhir.read('ServiceRequest', referral.filler))).toBe(404);
      const patients = await searchOf(fhir, 'Patient', { _id: referral.patient });
      expect(patients.total).toBe(0);
      const task = await fhir.read<Task & { id: string }>('Task', referral.cboTask);
      expect(task.businessStatus?.text).toBe('awaiting consent');
      expect(JSON.stringify(task)).not.toContain(referral.patient);
    });

    it('refuses it to a token stating another purpose (HMARKT) too', async () => {
      const fhir = cbo.fhir('system/*.rs', 'HMARKT');
      expect(await statusOf(() => fhir.read('Patient', referral.patient))).toBe(404);
      expect(await statusOf(() => fhir.read('Observation', obs))).toBe(404);
    });

    it('discloses it to a token stating research as its purpose of use', async () => {
      const fhir = cbo.fhir('system/*.rs', 'HRESCH');
      expect(await statusOf(() => fhir.read('Patient', referral.patient))).toBe(200);
      expect(await statusOf(() => fhir.read('Observation', obs))).toBe(200);
      const task = await fhir.read<Task & { id: string }>('Task', referral.cboTask);
      expect(task.for?.reference).toBe(`Patient/${referral.patient}`);
      expect(task.businessStatus).toBeUndefined();
    });

    it('audits the refusal as purpose-not-covered, with the purpose of use', async () => {
      const events = await auditOf(`Patient/${referral.patient}`);
      const refused = events.find(
        (e) => e.outcome === '4' && e.outcomeDesc?.includes('purpose-not-covered'),
      );
      expect(refused!.agent[0].purposeOfUse![0].coding![0].code).toMatch(/^(TREAT|HMARKT)$/);
      expect(
        events.some(
          (e) => e.outcome === '0' && e.agent[0].purposeOfUse?.[0].coding?.[0].code === 'HRESCH',
        ),
      ).toBe(true);
    });
  });

  describe('(c) a deny scoped to PSY beside a permit covering PSY and ETH', () => {
    let referral: RoutedReferral;
    const obs = { plain: '', psy: '', eth: '' };

    beforeAll(async () => {
      referral = await routedReferral('labels-deny', ehr, platform, CBO);
      await consentInForce(referral, {
        type: 'permit',
        actor: [{ role: IRCP, reference: { reference: `Organization/${CBO}` } }],
        securityLabel: [PSY, ETH],
      });
      const consent = await ehr.fhir().read<Consent & { id: string }>('Consent', referral.consent);
      const { id: _id, meta: _meta, identifier: _identifier, ...rest } = consent;
      await ehr.fhir().create<Consent>({
        ...rest,
        status: 'active',
        provision: { type: 'deny', securityLabel: [PSY] },
      } as Consent);
      obs.plain = await observation(referral);
      obs.psy = await observation(referral, PSY);
      obs.eth = await observation(referral, ETH);
    });

    it('hides only the PSY-labelled data', async () => {
      const fhir = cbo.fhir('system/*.rs');
      expect(await statusOf(() => fhir.read('Observation', obs.psy))).toBe(404);
      expect(await statusOf(() => fhir.read('Observation', obs.plain))).toBe(200);
      expect(await statusOf(() => fhir.read('Observation', obs.eth))).toBe(200);
      expect(await statusOf(() => fhir.read('Patient', referral.patient))).toBe(200);
      const search = await searchOf(fhir, 'Observation', {
        subject: `Patient/${referral.patient}`,
      });
      expect(ids(search)).toEqual([obs.plain, obs.eth].sort());
      expect(search.total).toBe(2);
      // A search on the label itself finds nothing either.
      const bySecurity = await searchOf(fhir, 'Observation', {
        _security: `${ACT_CODE}|PSY`,
      });
      expect(bySecurity.total).toBe(0);
      // Nor does a chain through it: the match would tell that PSY data exists.
      const derived = await platform.fhir().create<Observation & { id?: string }>({
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '88122-7' }] },
        subject: { reference: `Patient/${referral.patient}` },
        performer: [{ reference: `Organization/${CBO}` }],
        derivedFrom: [{ reference: `Observation/${obs.psy}` }],
      });
      expect(await statusOf(() => fhir.read('Observation', derived.id!))).toBe(200);
      const chained = await searchOf(fhir, 'Observation', {
        'derived-from:Observation._id': obs.psy,
      });
      expect(chained.total).toBe(0);
      const platformChained = (await platform
        .fhir()
        .search('Observation', { 'derived-from:Observation._id': obs.psy })) as unknown as Bundle;
      expect(ids(platformChained)).toEqual([derived.id]);
      // _include from the patient's side does not bring it back.
      const withObs = await searchOf(fhir, 'Patient', {
        _id: referral.patient,
        _revinclude: 'Observation:subject',
      });
      expect(ids(withObs)).toEqual([referral.patient, obs.plain, obs.eth, derived.id!].sort());
    });
  });
});
