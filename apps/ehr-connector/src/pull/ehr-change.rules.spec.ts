import { cancellationOf, isNewerVersion } from './ehr-change.rules';

describe('isNewerVersion', () => {
  const applied = { versionId: 'b', lastUpdated: '2026-01-01T10:00:00.000Z' };

  it('anything is new when nothing was applied', () => {
    expect(isNewerVersion(undefined, { versionId: 'a' })).toBe(true);
  });
  it('the version applied is not new (overlap window, a second poll)', () => {
    expect(isNewerVersion(applied, { ...applied })).toBe(false);
  });
  it('an older version is not new (a late notification)', () => {
    expect(
      isNewerVersion(applied, { versionId: 'a', lastUpdated: '2026-01-01T09:59:59.000Z' }),
    ).toBe(false);
  });
  it('a later version is new, whatever its id looks like', () => {
    expect(
      isNewerVersion(applied, { versionId: '0', lastUpdated: '2026-01-01T10:00:01.000Z' }),
    ).toBe(true);
  });
  it('the same instant counts as new only with another version id', () => {
    expect(isNewerVersion(applied, { versionId: 'c', lastUpdated: applied.lastUpdated })).toBe(
      true,
    );
    expect(isNewerVersion(applied, { lastUpdated: applied.lastUpdated })).toBe(false);
  });
  it('rows pulled before versions were kept (lastUpdated only) still compare', () => {
    const old = { lastUpdated: applied.lastUpdated };
    expect(isNewerVersion(old, applied)).toBe(true);
    expect(isNewerVersion(old, { versionId: 'x', lastUpdated: '2026-01-01T09:00:00.000Z' })).toBe(
      false,
    );
  });
});

describe('cancellationOf', () => {
  it('a cancelled Task, with the clinician’s reason when given', () => {
    expect(cancellationOf({ resourceType: 'Task', status: 'cancelled' })?.reason).toMatch(
      /Cancelled on the referring EHR/,
    );
    expect(
      cancellationOf({
        resourceType: 'Task',
        status: 'cancelled',
        statusReason: { text: 'no longer needed' },
      }),
    ).toEqual({ reason: 'no longer needed' });
  });
  it('a Task entered in error, a revoked or erroneous ServiceRequest', () => {
    expect(cancellationOf({ resourceType: 'Task', status: 'entered-in-error' })).toBeDefined();
    expect(cancellationOf({ resourceType: 'ServiceRequest', status: 'revoked' })).toBeDefined();
    expect(
      cancellationOf({ resourceType: 'ServiceRequest', status: 'entered-in-error' }),
    ).toBeDefined();
  });
  it.each([
    ['Task', 'requested'],
    ['Task', 'accepted'],
    ['Task', 'completed'],
    ['ServiceRequest', 'active'],
    ['ServiceRequest', 'completed'],
    ['ServiceRequest', 'on-hold'],
  ])('%s %s changes nothing', (resourceType, status) => {
    expect(cancellationOf({ resourceType, status })).toBeUndefined();
  });
});
