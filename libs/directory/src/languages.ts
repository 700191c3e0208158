// Language tags: directories write ISO 639-2 codes ("spa") or names ("Spanish"), EHRs write
// BCP-47 ("es-MX") or text. Everything is normalised to BCP-47 with a 2-letter primary subtag when
// one exists, and compared on the primary subtag.

/** English names of the languages most often met in US CBO directories, by ISO 639-1 code. */
export const LANGUAGE_NAMES: Readonly<Record<string, string>> = {
  en: 'English',
  es: 'Spanish',
  zh: 'Chinese',
  vi: 'Vietnamese',
  ar: 'Arabic',
  so: 'Somali',
  ht: 'Haitian Creole',
  ru: 'Russian',
  ko: 'Korean',
  fr: 'French',
  pl: 'Polish',
  tl: 'Tagalog',
  ur: 'Urdu',
  hi: 'Hindi',
  pt: 'Portuguese',
  de: 'German',
  it: 'Italian',
  ja: 'Japanese',
  am: 'Amharic',
  ne: 'Nepali',
  fa: 'Persian',
  uk: 'Ukrainian',
  el: 'Greek',
  gu: 'Gujarati',
  bn: 'Bengali',
  my: 'Burmese',
  sw: 'Swahili',
  ps: 'Pashto',
  km: 'Khmer',
  lo: 'Lao',
  hy: 'Armenian',
  ro: 'Romanian',
  sq: 'Albanian',
  sr: 'Serbian',
  bs: 'Bosnian',
  ti: 'Tigrinya',
  yo: 'Yoruba',
  ase: 'American Sign Language',
};

/** ISO 639-2 (bibliographic and terminologic) codes of the languages above. */
const ISO639_2_TO_1: Readonly<Record<string, string>> = {
  eng: 'en',
  spa: 'es',
  chi: 'zh',
  zho: 'zh',
  vie: 'vi',
  ara: 'ar',
  som: 'so',
  hat: 'ht',
  rus: 'ru',
  kor: 'ko',
  fre: 'fr',
  fra: 'fr',
  pol: 'pl',
  tgl: 'tl',
  urd: 'ur',
  hin: 'hi',
  por: 'pt',
  ger: 'de',
  deu: 'de',
  ita: 'it',
  jpn: 'ja',
  amh: 'am',
  nep: 'ne',
  per: 'fa',
  fas: 'fa',
  ukr: 'uk',
  gre: 'el',
  ell: 'el',
  guj: 'gu',
  ben: 'bn',
  bur: 'my',
  mya: 'my',
  swa: 'sw',
  pus: 'ps',
  khm: 'km',
  lao: 'lo',
  arm: 'hy',
  hye: 'hy',
  rum: 'ro',
  ron: 'ro',
  alb: 'sq',
  sqi: 'sq',
  srp: 'sr',
  bos: 'bs',
  tir: 'ti',
  yor: 'yo',
};

const NAME_TO_CODE: ReadonlyMap<string, string> = new Map([
  ...Object.entries(LANGUAGE_NAMES).map(([code, name]) => [name.toLowerCase(), code] as const),
  ['mandarin', 'zh'],
  ['cantonese', 'zh'],
  ['farsi', 'fa'],
  ['filipino', 'tl'],
  ['haitian', 'ht'],
  ['creole', 'ht'],
  ['asl', 'ase'],
  ['sign language', 'ase'],
]);

const TAG = /^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$/;

/**
 * A BCP-47 tag for a language code or English name: `es`, `ES-mx` → `es-MX`, `spa` → `es`,
 * `Spanish` → `es`, `zh-hant` → `zh-Hant`. Undefined when it is neither.
 */
export function normalizeLanguageTag(input: string | undefined | null): string | undefined {
  if (typeof input !== 'string') return undefined;
  const value = input.trim();
  if (!value) return undefined;
  const named = NAME_TO_CODE.get(value.toLowerCase());
  if (named) return named;
  if (!TAG.test(value)) return undefined;
  const [primary, ...rest] = value.split('-');
  const lower = primary.toLowerCase();
  const code = ISO639_2_TO_1[lower] ?? lower;
  const subtags = rest.map((s) => {
    if (s.length === 4 && /^[A-Za-z]+$/.test(s))
      return s[0].toUpperCase() + s.slice(1).toLowerCase();
    if ((s.length === 2 && /^[A-Za-z]+$/.test(s)) || /^\d{3}$/.test(s)) return s.toUpperCase();
    return s.toLowerCase();
  });
  return [code, ...subtags].join('-');
}

/** The primary language subtag: `es-MX` → `es`. */
export function primaryLanguage(tag: string): string {
  const i = tag.indexOf('-');
  return (i < 0 ? tag : tag.slice(0, i)).toLowerCase();
}

/** "Spanish (es)" for explanations; the bare tag when the name is unknown. */
export function describeLanguage(tag: string): string {
  const name = LANGUAGE_NAMES[primaryLanguage(tag)];
  return name ? `${name} (${tag})` : tag;
}
