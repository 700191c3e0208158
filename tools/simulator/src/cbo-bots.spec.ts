import type { FhirApiClient, Resource } from '@carerelay/fhir-client';
import { CboBots, DEFAULT_BOT_OPTIONS } from './cbo-bots';

/** A CBO's Tasks in memory, changed the way the FHIR client's If-Match update does. */
function cboClient(tasks: Map<string, Resource>) {
  const updates: string[] = [];
  const fhir = {
    updateWithIfMatch: async (
      _type: string,
      id: string,
      change: (current: Resource) => Resource | undefined,
    ) => {
      const next = change(structuredClone(tasks.get(id)!));
      if (next) {
        tasks.set(id, next);
        updates.push(`${id}:${next.status}`);
      }
      return next ?? tasks.get(id)!;
    },
  } as unknown as FhirApiClient;
  return { fhir, updates };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('CboBots.offer', () => {
  it('answers a Task routed to its organization once, and no other organization’s', async () => {
    const tasks = new Map<string, Resource>([
      ['t1', { resourceType: 'Task', id: 't1', status: 'requested' }],
    ]);
    const { fhir, updates } = cboClient(tasks);
    const bots = new CboBots([{ organizationId: 'org-a', fhir }], {
      ...DEFAULT_BOT_OPTIONS,
      rejectShare: 1,
      acceptDelayMs: [0, 1],
    });
    expect(bots.offer('org-b', 't1')).toBe(false);
    expect(bots.offer('org-a', 't1')).toBe(true);
    expect(bots.offer('org-a', 't1')).toBe(false);
    for (let i = 0; i < 100 && updates.length === 0; i++) await sleep(5);
    bots.stop();
    expect(updates).toEqual(['t1:rejected']);
    expect(bots.stats).toMatchObject({ seen: 1, rejected: 1 });
  });
});
