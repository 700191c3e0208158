import i18next from 'i18next';
import { initReactI18next } from 'react-i18next';
import en from './locales/en.json';
import es from './locales/es.json';

export const LANGUAGES = ['en', 'es'] as const;
export type Language = (typeof LANGUAGES)[number];

const stored =
  (typeof localStorage !== 'undefined' && localStorage.getItem('carerelay.language')) || '';
const initial: Language =
  stored === 'es' || stored === 'en' ? stored : navigator.language.startsWith('es') ? 'es' : 'en';

void i18next.use(initReactI18next).init({
  resources: { en: { translation: en }, es: { translation: es } },
  lng: initial,
  fallbackLng: 'en',
  interpolation: { escapeValue: false },
});
document.documentElement.lang = initial;

export function setLanguage(language: Language): void {
  localStorage.setItem('carerelay.language', language);
  document.documentElement.lang = language;
  void i18next.changeLanguage(language);
}

export default i18next;
