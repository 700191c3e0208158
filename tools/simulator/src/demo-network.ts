import {
  SAMPLE_DIRECTORY_SEED,
  generateSampleDirectory,
  type Directory,
} from '@carerelay/directory';

/**
 * Who the demo network is made of: the Coordination Platform itself, two hospitals (each with a
 * stand-in EHR FHIR server), a coordinator (the county health department) and every CBO of the
 * sample directory. Plain data, shared by the seed step, the simulator, the CBO bots and the e2e
 * suite.
 */

export interface DemoOrganization {
  id: string;
  name: string;
  role: 'ehr' | 'cbo' | 'coordinator';
}

export const DEFAULT_PLATFORM_ORGANIZATION_ID = 'carerelay-platform';

export const DEMO_HOSPITALS: readonly DemoOrganization[] = [
  { id: 'hosp-northside', name: 'Northside Community Hospital', role: 'ehr' },
  { id: 'hosp-southshore', name: 'South Shore Medical Center', role: 'ehr' },
];

export const DEMO_COORDINATOR: DemoOrganization = {
  id: 'cook-county-health',
  name: 'Cook County Department of Public Health (network coordinator)',
  role: 'coordinator',
};

/** The seed of the sample directory the demo uses (the directory-service's default too). */
export const DEMO_DIRECTORY_SEED = SAMPLE_DIRECTORY_SEED;

let directory: Directory | undefined;

/** The sample directory of the demo (deterministic: same seed, same CBOs, same services). */
export function demoDirectory(): Directory {
  directory ??= generateSampleDirectory({ seed: DEMO_DIRECTORY_SEED });
  return directory;
}

/** Every organization that gets a demo client: hospitals, coordinator, then every CBO. */
export function demoOrganizations(): DemoOrganization[] {
  return [
    ...DEMO_HOSPITALS,
    DEMO_COORDINATOR,
    ...demoDirectory().organizations.map((o) => ({
      id: o.id,
      name: o.name,
      role: 'cbo' as const,
    })),
  ];
}
