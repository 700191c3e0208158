export * from './fhir-kit.loader';
export * from './smart-backend-token';
export * from './fhir-api.client';
