import type { SdohCategory } from './directory.model';

export const SNOMED_SYSTEM = 'http://snomed.info/sct';

/**
 * Intervention codes whose SDOH domain is fixed by the SDOH Clinical Care IG: each is a member of
 * exactly one domain's intervention value set (e.g. "Food Insecurity Procedures"). Only codes the
 * IG itself uses in its examples are listed; the value sets are maintained in VSAC and change
 * there, so a code missing here is not derived — the referral is then routed on its code alone.
 */
const DOMAIN_OF_CODE: ReadonlyMap<string, SdohCategory> = new Map([
  [`${SNOMED_SYSTEM}|467771000124109`, 'food-insecurity'], // food pantry application assistance
  [`${SNOMED_SYSTEM}|467681000124101`, 'food-insecurity'], // Summer Food Service Program application
  [`${SNOMED_SYSTEM}|467751000124104`, 'food-insecurity'], // garden program application
  [`${SNOMED_SYSTEM}|710925007`, 'food-insecurity'], // provision of food
]);

/** The SDOH domains the IG's value sets put these codings in (none for unknown codes). */
export function sdohDomainsOfCodes(
  codings: ReadonlyArray<{ system?: string; code?: string }>,
): SdohCategory[] {
  const domains: SdohCategory[] = [];
  for (const coding of codings) {
    const domain = DOMAIN_OF_CODE.get(`${coding.system}|${coding.code}`);
    if (domain && !domains.includes(domain)) domains.push(domain);
  }
  return domains;
}
