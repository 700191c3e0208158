export * from './consent-decision';
export * from './disclosure';
export * from './fhir-time';
export * from './grants';
export * from './security-labels';
export * from './versions';
