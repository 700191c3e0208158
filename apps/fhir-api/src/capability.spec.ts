import type { CapabilityStatementRestResource } from '@medplum/fhirtypes';
import { SUPPORTED_PROFILES, validateFhirResource } from '@carerelay/fhir';
import { capabilityStatement } from './capability';
import { SUBSCRIPTION_PROFILE } from './subscriptions/backport';

const BASE = 'http://localhost:8080/fhir';
const resources = (subscriptions: boolean) =>
  capabilityStatement(BASE, { subscriptions }).rest![0].resource!;

describe('capabilityStatement', () => {
  it('is a valid R4 CapabilityStatement with Subscription', () => {
    const statement = capabilityStatement(BASE, { subscriptions: true });
    expect(validateFhirResource(statement).filter((i) => i.severity === 'error')).toEqual([]);
  });

  it('lists Subscription only where the Subscriptions module is served, with its own routes', () => {
    expect(resources(false).map((r) => r.type)).not.toContain('Subscription');
    const subscription = resources(true).find((r) => r.type === 'Subscription');
    expect(subscription).toMatchObject({
      interaction: [{ code: 'create' }, { code: 'read' }, { code: 'delete' }],
      supportedProfile: [SUBSCRIPTION_PROFILE],
      operation: [{ name: 'status' }],
      updateCreate: false,
      conditionalCreate: false,
      conditionalUpdate: false,
      conditionalDelete: 'not-supported',
    });
    expect(subscription?.searchParam).toBeUndefined();
  });

  it('lists the supported profiles and _revinclude values of the stored types', () => {
    const byType = new Map<string, CapabilityStatementRestResource>(
      resources(false).map((r) => [r.type, r]),
    );
    for (const [type, profiles] of Object.entries(SUPPORTED_PROFILES))
      expect({ type, profiles: byType.get(type)?.supportedProfile }).toEqual({ type, profiles });
    expect(byType.get('ServiceRequest')?.searchRevInclude).toEqual(
      expect.arrayContaining(['Task:focus', 'Procedure:based-on']),
    );
    // The audit trail is searched by its own code, without includes.
    expect(byType.get('AuditEvent')?.searchRevInclude).toBeUndefined();
  });
});
