import type { TFunction } from 'i18next';

/**
 * What a person reads for an analytics group code: race and ethnicity (OMB codes), payer
 * (PHDSC typology), sex and SDOH category from the catalogs; languages by the browser's own
 * names (Intl.DisplayNames, in the person's language); ZIPs and age bands as they are.
 */
export function groupLabel(
  t: TFunction,
  language: string,
  dimension: string,
  code: string,
  organizations?: ReadonlyMap<string, string>,
): string {
  if (code === 'unknown') return t('groups.unknown');
  switch (dimension) {
    case 'race':
    case 'ethnicity':
    case 'payer':
    case 'sex':
      return t(`groups.${dimension}.${code}`, { defaultValue: code });
    case 'category':
      return t(`categories.${code}`, { defaultValue: code });
    case 'language':
      try {
        return new Intl.DisplayNames([language], { type: 'language' }).of(code) ?? code;
      } catch {
        return code;
      }
    case 'cbo':
    case 'requester':
      return organizations?.get(code) ?? code;
    default:
      return code;
  }
}
