import type { FhirApiClient, Resource } from '@carerelay/fhir-client';

/**
 * Planted disparities of the demo, so that the coordinators' analytics show a real, statistically
 * flagged gap: CBO bots turn some patients away more often than others, and fail to reach some
 * after accepting them. Off unless SIMULATOR_DISPARITIES is `on` (npm start sets it) or a JSON
 * DisparityConfig.
 */
export interface DisparityConfig {
  /**
   * At a share of the CBOs (chosen by a stable hash of their id), this language is rejected
   * `factor` times as often, and `unreachedShare` of the accepted referrals end `failed` (the CBO
   * could not reach the client: no one there speaks the language). A rejection is routed on to
   * another CBO, so it alone barely moves the closure rate; a failure ends the referral.
   */
  language: { code: string; factor: number; cboShare: number; unreachedShare: number };
  /** Too little capacity in one ZIP for one category: its referrals are rejected this often. */
  shortage: { zip: string; category: string; rejectShare: number };
}

export const DEFAULT_DISPARITIES: DisparityConfig = {
  language: { code: 'es', factor: 3, cboShare: 0.5, unreachedShare: 0.3 },
  shortage: { zip: '60623', category: 'housing-instability', rejectShare: 0.8 },
};

export function disparitiesFrom(value: string | undefined): DisparityConfig | null {
  if (!value || value === 'off') return null;
  if (value === 'on') return DEFAULT_DISPARITIES;
  const custom = JSON.parse(value) as Partial<DisparityConfig>;
  return { ...DEFAULT_DISPARITIES, ...custom };
}

export const DISPARITIES = disparitiesFrom(process.env.SIMULATOR_DISPARITIES);

export interface PatientTraits {
  language?: string;
  zip?: string;
  categories: string[];
}

/** A stable share in [0, 1) of an organization id (FNV-1a, then a murmur finalizer to spread it). */
function shareOf(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32;
}

/** The reject share (and reason) for one Task at one CBO; the base share when no disparity applies. */
export function rejection(
  config: DisparityConfig | null,
  organizationId: string,
  traits: PatientTraits | null,
  baseShare: number,
): { share: number; reason?: string } {
  if (!config || !traits) return { share: baseShare };
  const { shortage, language } = config;
  if (traits.zip === shortage.zip && traits.categories.includes(shortage.category))
    return { share: shortage.rejectShare, reason: 'No capacity: our waitlist is full this month' };
  if (speaksPlantedLanguage(config, organizationId, traits))
    return { share: Math.min(1, baseShare * language.factor) };
  return { share: baseShare };
}

/** The share of accepted referrals that this CBO fails to reach (0 when no disparity applies). */
export function unreachedShare(
  config: DisparityConfig | null,
  organizationId: string,
  traits: PatientTraits | null,
): number {
  if (!config || !traits) return 0;
  return speaksPlantedLanguage(config, organizationId, traits) ? config.language.unreachedShare : 0;
}

/** The patient speaks the planted language and this CBO is one of those biased against it. */
function speaksPlantedLanguage(
  config: DisparityConfig,
  organizationId: string,
  traits: PatientTraits,
): boolean {
  return (
    traits.language === config.language.code && shareOf(organizationId) < config.language.cboShare
  );
}

/** Why a CBO that could not reach the client ends its Task (reads as "unable to contact"). */
export const UNREACHED_REASON = 'Unable to contact the client: no one here speaks their language';

/** The Task a CBO works, with the patient and the request it names, as the CBO read them. */
export interface TaskContext {
  task: Resource;
  patient?: Resource;
  serviceRequest?: Resource;
}

/**
 * Reads a Task and, when `withTraits` (the patient's traits are looked at), the Patient and
 * ServiceRequest it names (either may be unreadable).
 */
export async function readTaskContext(
  fhir: FhirApiClient,
  taskId: string,
  withTraits: boolean,
): Promise<TaskContext> {
  const task = await fhir.read('Task', taskId);
  if (!withTraits) return { task };
  const ref = (field: unknown) => (field as { reference?: string } | undefined)?.reference;
  const [patient, serviceRequest] = await Promise.all([
    ref(task.for)
      ? fhir.read('Patient', ref(task.for)!.split('/')[1]).catch(() => undefined)
      : undefined,
    ref(task.focus)?.startsWith('ServiceRequest/')
      ? fhir.read('ServiceRequest', ref(task.focus)!.split('/')[1]).catch(() => undefined)
      : undefined,
  ]);
  return { task, patient, serviceRequest };
}

/** What the CBO sees of the referred patient: language, home ZIP, and the request's category. */
export function traitsOf({ patient, serviceRequest }: TaskContext): PatientTraits {
  const codes = (resource: Resource | undefined, path: string) =>
    ((resource?.[path] as Array<{ coding?: Array<{ code?: string }> }>) ?? []).flatMap(
      (c) => c.coding?.map((x) => x.code ?? '') ?? [],
    );
  const communication = (patient?.communication ?? []) as Array<{
    language?: { coding?: Array<{ code?: string }> };
    preferred?: boolean;
  }>;
  const preferred = communication.find((c) => c.preferred) ?? communication[0];
  const address = ((patient?.address ?? []) as Array<{ use?: string; postalCode?: string }>).find(
    (a) => a.use !== 'old',
  );
  return {
    language: preferred?.language?.coding?.[0]?.code,
    zip: address?.postalCode?.slice(0, 5),
    categories: codes(serviceRequest, 'category'),
  };
}
