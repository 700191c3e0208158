import { pathOfRecord } from './hsds-import.service';

describe('pathOfRecord', () => {
  const doc = {
    organizations: [
      { id: 'o1', services: [{ id: 's0' }], phones: [{ id: 's1' }] },
      {
        id: 'o2',
        services: [{ id: 'x' }, { id: 's1', service_at_locations: [{ location: { id: 'l9' } }] }],
        locations: [{ id: 'l1' }],
      },
    ],
    services: [{ id: 's7', organization_id: 'o1' }],
  };

  it('finds each kind of record where HSDS puts it', () => {
    expect(pathOfRecord(doc, 'organization', 'o2')).toBe('organizations[1]');
    expect(pathOfRecord(doc, 'service', 's1')).toBe('organizations[1].services[1]');
    expect(pathOfRecord(doc, 'service', 's7')).toBe('services[0]');
    expect(pathOfRecord(doc, 'location', 'l1')).toBe('organizations[1].locations[0]');
    expect(pathOfRecord(doc, 'location', 'l9')).toBe(
      'organizations[1].services[1].service_at_locations[0].location',
    );
    expect(pathOfRecord([{ id: 'o3' }], 'organization', 'o3')).toBe('[0]');
    expect(pathOfRecord(doc, 'service', 'nope')).toBeUndefined();
  });
});
