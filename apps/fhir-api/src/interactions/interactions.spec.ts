import type { Task } from '@medplum/fhirtypes';
import { badRequest, FhirError, unprocessable } from '@carerelay/fhir';
import type { RequestActor } from '../request-actor';
import type { StoredResource } from '../store/stored-resource.model';
import { locateInBundle, statusLine } from './bundle.processor';
import { conditionalKey, conditionalQuery } from './conditional';
import { etagOf, parseIfMatch } from './etag';
import { assertSupportedType, taskRoleOf } from './interaction.rules';

const actor = (role: RequestActor['role'], organizationId = 'org-1'): RequestActor => ({
  clientId: 'c',
  organizationId,
  role,
  scopes: [],
});

describe('If-Match', () => {
  it.each([
    ['W/"3"', 3],
    ['"3"', 3],
    ['3', 3],
    [' W/"12" ', 12],
    [undefined, undefined],
    ['', undefined],
  ])('%p → %p', (header, version) => expect(parseIfMatch(header)).toBe(version));

  it.each(['W/"x"', '*', 'W/"1", W/"2"', '"-1"'])('rejects %p with a 400', (header) => {
    expect(() => parseIfMatch(header)).toThrow(FhirError);
  });

  it('formats weak ETags', () => expect(etagOf(4)).toBe('W/"4"'));
});

describe('conditional create keys', () => {
  it('do not depend on the order of the parameters', () => {
    const a = conditionalKey(actor('ehr'), new URLSearchParams('identifier=s|1&status=active'));
    const b = conditionalKey(actor('ehr'), new URLSearchParams('status=active&identifier=s|1'));
    expect(a).toBe(b);
  });

  it('are scoped to what the actor can see', () => {
    const q = new URLSearchParams('identifier=s|1');
    expect(conditionalKey(actor('ehr', 'a'), q)).not.toBe(conditionalKey(actor('ehr', 'b'), q));
    expect(conditionalKey(actor('coordinator', 'a'), q)).toBe(
      conditionalKey(actor('platform', 'b'), q),
    );
  });

  it('accept the query with or without "Type?"', () => {
    expect(conditionalQuery('Patient', 'Patient?identifier=x').toString()).toBe('identifier=x');
    expect(conditionalQuery('Patient', '?identifier=x').toString()).toBe('identifier=x');
    expect(() => conditionalQuery('Patient', 'Task?identifier=x')).toThrow(FhirError);
    expect(() => conditionalQuery('Patient', '  ')).toThrow(FhirError);
  });
});

describe('errors inside a Bundle', () => {
  it('point into the entry that failed', () => {
    const error = locateInBundle(unprocessable('no focus', 'Task.focus'), 3, 'Task');
    expect(error.status).toBe(422);
    expect(error.issues[0].expression).toEqual(['Bundle.entry[3].resource.focus']);
    expect(locateInBundle(badRequest('bad'), 1, 'Task').issues[0].expression).toEqual([
      'Bundle.entry[1]',
    ]);
    expect(
      locateInBundle(badRequest('bad', 'Bundle.entry[0].fullUrl'), 0).issues[0].expression,
    ).toEqual(['Bundle.entry[0].fullUrl']);
  });

  it('carry HTTP status lines', () => {
    expect(statusLine(201)).toBe('201 Created');
    expect(statusLine(412)).toBe('412 Precondition Failed');
  });
});

describe('resource types', () => {
  it('serves the IG types and answers 404 for others', () => {
    expect(() => assertSupportedType('Task')).not.toThrow();
    for (const type of ['Medication', 'Unicorn', '__proto__', '']) {
      try {
        assertSupportedType(type);
        throw new Error('accepted');
      } catch (error) {
        expect((error as FhirError).status).toBe(404);
      }
    }
  });
});

describe('the role of an actor on a referral Task', () => {
  const stored = {
    orgs: { requesterOrg: 'ehr-a', ownerOrg: 'cbo-a', otherOrgs: [] },
  } as unknown as StoredResource;
  const task = { resourceType: 'Task', status: 'requested', intent: 'order' } as Task;

  it('follows the organization columns', () => {
    expect(taskRoleOf(actor('ehr', 'ehr-a'), stored, task)).toBe('requester');
    expect(taskRoleOf(actor('cbo', 'cbo-a'), stored, task)).toBe('owner');
    expect(taskRoleOf(actor('cbo', 'cbo-b'), stored, task)).toBeUndefined();
    expect(taskRoleOf(actor('coordinator', 'x'), stored, task)).toBe('platform');
    expect(taskRoleOf(actor('platform', 'x'), stored, task)).toBe('platform');
  });
});
