import type { WebRole } from './account.model';

/**
 * The demo network's people (npm start): two CBOs of the sample directory that the demo's
 * referrals often reach, and the county coordinator. Demo passwords only: the README lists them.
 */
export const DEMO_PASSWORD = 'CareRelay-demo-2026';

export const DEMO_CBOS = [
  { id: 'org-0003', name: 'Kenwood Settlement House', slug: 'kenwood' },
  { id: 'org-0021', name: 'Streeterville Community Kitchen', slug: 'streeterville' },
] as const;
export const DEMO_COORDINATOR_ORG = 'cook-county-health';

export interface DemoPerson {
  username: string;
  displayName: string;
  organizationId: string;
  role: WebRole;
}

export function demoPeople(): DemoPerson[] {
  return [
    ...DEMO_CBOS.flatMap((cbo) => [
      {
        username: `cm.${cbo.slug}`,
        displayName: `Case manager, ${cbo.name}`,
        organizationId: cbo.id,
        role: 'case-manager' as const,
      },
      {
        username: `cm2.${cbo.slug}`,
        displayName: `Second case manager, ${cbo.name}`,
        organizationId: cbo.id,
        role: 'case-manager' as const,
      },
      {
        username: `admin.${cbo.slug}`,
        displayName: `Administrator, ${cbo.name}`,
        organizationId: cbo.id,
        role: 'cbo-admin' as const,
      },
    ]),
    {
      username: 'coordinator',
      displayName: 'Network coordinator, Cook County',
      organizationId: DEMO_COORDINATOR_ORG,
      role: 'coordinator',
    },
  ];
}
