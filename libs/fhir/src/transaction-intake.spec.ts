import type { Bundle, Resource } from '@medplum/fhirtypes';
import { collectReferences, rewriteReferences } from './references';
import { validateReferralRules } from './referral.rules';
import { validateFhirResource } from './resource-validation';
import { extractSearchIndex } from './search-index';
import { searchIndexMatches } from './search-match';
import { parseSearchRequest } from './search-request';
import { CONSENT, fixture, PATIENT, SERVICE_REQUEST, TASK_POSTED } from '../test-fixtures/load';

/**
 * The pieces an intake of a transaction Bundle uses, end to end on the IG examples: validate the
 * Bundle, rewrite urn:uuid references to the ids the server assigns, check the referral rules,
 * index, and find the Task again with the search of the "must show".
 */
describe('transaction intake with the IG examples', () => {
  const urn = {
    patient: 'urn:uuid:11111111-1111-4111-8111-111111111111',
    sr: 'urn:uuid:22222222-2222-4222-8222-222222222222',
    task: 'urn:uuid:33333333-3333-4333-8333-333333333333',
    consent: 'urn:uuid:44444444-4444-4444-8444-444444444444',
  };

  function bundle(): Bundle {
    const patient = fixture<Record<string, unknown>>(PATIENT);
    delete patient.id;
    const consent = fixture<Record<string, unknown>>(CONSENT);
    delete consent.id;
    consent.patient = { reference: urn.patient };
    const sr = fixture<Record<string, unknown>>(SERVICE_REQUEST);
    delete sr.id;
    sr.subject = { reference: urn.patient };
    sr.supportingInfo = [{ reference: urn.consent }];
    const task = fixture<Record<string, unknown>>(TASK_POSTED);
    delete task.text;
    task.focus = { reference: urn.sr };
    task.for = { reference: urn.patient };
    task.identifier = [{ system: 'urn:ehr:placer', value: 'REF-1' }];
    const entry = (fullUrl: string, resource: Record<string, unknown>, type: string) => ({
      fullUrl,
      resource: resource as unknown as Resource,
      request: {
        method: 'POST' as const,
        url: type,
        ifNoneExist: type === 'Task' ? 'identifier=urn:ehr:placer|REF-1' : undefined,
      },
    });
    return {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        entry(urn.patient, patient, 'Patient'),
        entry(urn.consent, consent, 'Consent'),
        entry(urn.sr, sr, 'ServiceRequest'),
        entry(urn.task, task, 'Task'),
      ].map((e) => JSON.parse(JSON.stringify(e))),
    };
  }

  it('validates, rewrites, follows the rules, indexes and is found by the must-show search', () => {
    const b = bundle();
    expect(validateFhirResource(b).filter((i) => i.severity === 'error')).toEqual([]);

    const ids = new Map<string, string>([
      [urn.patient, 'Patient/p1'],
      [urn.consent, 'Consent/c1'],
      [urn.sr, 'ServiceRequest/s1'],
      [urn.task, 'Task/t1'],
    ]);
    const stored = (b.entry ?? []).map((e) => {
      const resource = rewriteReferences(e.resource as Resource, ids);
      resource.id = (ids.get(e.fullUrl as string) as string).split('/')[1];
      resource.meta = { versionId: '1', lastUpdated: '2026-02-01T10:00:00.000Z' };
      return resource;
    });
    for (const resource of stored) {
      expect(
        collectReferences(resource).filter((r) => r.reference.reference?.startsWith('urn:')),
      ).toEqual([]);
      expect(validateFhirResource(resource).filter((i) => i.severity === 'error')).toEqual([]);
      expect(validateReferralRules(resource)).toEqual([]);
    }

    const task = stored[3];
    const req = parseSearchRequest(
      'Task',
      'requester=PractitionerRole/SDOHCC-PractitionerRoleDrJanWaterExample&status=requested&_lastUpdated=gt2026-01-01&_include=Task:focus&identifier=urn:ehr:placer|REF-1&patient=p1',
    );
    expect(searchIndexMatches(req.filters, extractSearchIndex(task))).toBe(true);
    const sr = stored[2];
    const bySupportingInfo = parseSearchRequest(
      'ServiceRequest',
      'supporting-info=Consent/c1&patient=Patient/p1',
    );
    expect(searchIndexMatches(bySupportingInfo.filters, extractSearchIndex(sr))).toBe(true);
  });

  it('finds malformed entries inside a Bundle with their path', () => {
    const b = bundle() as unknown as { entry: { resource: Record<string, unknown> }[] };
    b.entry[3].resource.status = 'bogus';
    const issues = validateFhirResource(b).filter((i) => i.severity === 'error');
    expect(issues).toEqual([
      expect.objectContaining({
        code: 'code-invalid',
        expression: ['Bundle.entry[3].resource.status'],
      }),
    ]);
  });
});
