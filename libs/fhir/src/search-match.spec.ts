import type { Resource } from '@medplum/fhirtypes';
import { extractSearchIndex } from './search-index';
import { filterMatches, searchIndexMatches } from './search-match';
import { parseSearchRequest } from './search-request';
import {
  fixture,
  PATIENT,
  SERVICE_REQUEST,
  SUBTASK_ACCEPTED,
  TASK_ACCEPTED,
  TASK_COMPLETED,
} from '../test-fixtures/load';

/** Does `resource` match `Type?query` (parsed by parseSearchRequest, rows by extractSearchIndex)? */
function matches(resource: Resource, query: string): boolean {
  const req = parseSearchRequest(resource.resourceType, new URLSearchParams(query));
  return searchIndexMatches(req.filters, extractSearchIndex(resource));
}

describe('search filters against index rows', () => {
  const accepted = fixture<Resource>(TASK_ACCEPTED);
  const completed = fixture<Resource>(TASK_COMPLETED);
  const subtask = fixture<Resource>(SUBTASK_ACCEPTED);

  it.each<[string, boolean, boolean]>([
    ['status=accepted', true, false],
    ['status=accepted,completed', true, true],
    ['status:not=accepted', false, true],
    ['status:not=accepted,completed', false, false],
    ['code=http://hl7.org/fhir/CodeSystem/task-code|fulfill', true, true],
    ['code=http://hl7.org/fhir/CodeSystem/task-code|', true, true],
    ['code=|fulfill', false, false],
    ['code=fulfill', true, true],
    ['code=urn:other|fulfill', false, false],
    ['status=accepted&code=fulfill', true, false],
    ['_id=SDOHCC-TaskReferralManagementOrderFulfillmentAcceptedExample,x', true, false],
    ['patient=Patient/pat-53234', true, true],
    ['patient=pat-53234', true, true],
    ['patient=Patient/other', false, false],
    ['requester=PractitionerRole/SDOHCC-PractitionerRoleDrJanWaterExample', true, true],
    ['output=Procedure/SDOHCC-ProcedureFoodPantryApplicationAssistanceExample', false, true],
    ['output:missing=true', true, false],
    ['output:missing=false', false, true],
    ['authored-on=2020-09-11', true, true],
    ['authored-on=2020-09', true, true],
    ['authored-on=gt2020-09-11', false, false],
    ['authored-on=ge2020-09-11', true, true],
    ['authored-on=lt2020-09-12', true, true],
    ['authored-on=sa2020-09-10', true, true],
    ['authored-on=eb2020-09-11T21:56:54.671Z', false, false],
    ['authored-on=ne2020-09-11', false, false],
  ])('%s → accepted %s, completed %s', (query, forAccepted, forCompleted) => {
    expect(matches(accepted, query)).toBe(forAccepted);
    expect(matches(completed, query)).toBe(forCompleted);
  });

  it('tells the source referral from the platform sub-Task by requester and part-of', () => {
    expect(
      matches(subtask, 'part-of=Task/SDOHCC-TaskReferralManagementOrderFulfillmentAcceptedExample'),
    ).toBe(true);
    expect(matches(accepted, 'part-of:missing=true')).toBe(true);
    expect(
      matches(subtask, 'requester=Organization/SDOHCC-OrganizationCoordinationPlatformExample'),
    ).toBe(true);
    expect(
      matches(accepted, 'requester=Organization/SDOHCC-OrganizationCoordinationPlatformExample'),
    ).toBe(false);
  });

  it('matches strings by prefix, exactly, or by substring, ignoring case and accents', () => {
    const patient = fixture<Record<string, unknown>>(PATIENT);
    patient.name = [{ family: 'Núñez', given: ['Colin'] }];
    const p = patient as unknown as Resource;
    expect(matches(p, 'family=nun')).toBe(true);
    expect(matches(p, 'family=NÚÑ')).toBe(true);
    expect(matches(p, 'family=une')).toBe(false);
    expect(matches(p, 'family:contains=ÑE')).toBe(true);
    expect(matches(p, 'family:exact=Núñez')).toBe(true);
    expect(matches(p, 'family:exact=nunez')).toBe(false);
    expect(matches(p, 'name=col')).toBe(true);
    expect(matches(p, 'gender=male&birthdate=1987')).toBe(true);
    expect(matches(p, 'birthdate=lt1987-02-20')).toBe(false);
  });

  it('matches categories and the platform _lastUpdated poll', () => {
    const sr = fixture<Record<string, unknown>>(SERVICE_REQUEST);
    sr.meta = { lastUpdated: '2026-03-01T12:00:00.000Z' };
    const r = sr as unknown as Resource;
    expect(
      matches(
        r,
        'category=http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes|food-insecurity',
      ),
    ).toBe(true);
    expect(matches(r, 'category=housing-instability')).toBe(false);
    expect(matches(r, '_lastUpdated=gt2026-03-01T11:59:59Z')).toBe(true);
    expect(matches(r, '_lastUpdated=gt2026-03-01T12:00:00Z')).toBe(false);
    expect(matches(r, '_lastUpdated=ge2026-03-01T12:00:00Z')).toBe(true);
  });

  it('matches quantities with system and code, and uris exactly', () => {
    const obs = {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'w' },
      meta: { profile: ['http://example.org/p'] },
      valueQuantity: { value: 72.5, system: 'http://unitsofmeasure.org', code: 'kg' },
    } as Resource;
    expect(matches(obs, 'value-quantity=72.5')).toBe(true);
    expect(matches(obs, 'value-quantity=gt70|http://unitsofmeasure.org|kg')).toBe(true);
    expect(matches(obs, 'value-quantity=gt70||g')).toBe(false);
    expect(matches(obs, 'value-quantity=lt70')).toBe(false);
    expect(matches(obs, '_profile=http://example.org/p')).toBe(true);
    expect(matches(obs, '_profile=http://example.org')).toBe(false);
  });

  it('evaluates a single filter on its own parameter only', () => {
    const rows = extractSearchIndex(accepted);
    const [status] = parseSearchRequest('Task', 'status=accepted').filters;
    expect(filterMatches(status, rows)).toBe(true);
    expect(
      filterMatches(
        status,
        rows.filter((r) => r.param !== 'status'),
      ),
    ).toBe(false);
  });
});
