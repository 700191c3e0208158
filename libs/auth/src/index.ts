// Access tokens of the FHIR API, shared by the FHIR API and every service API.
export * from './access-token';
export * from './actor';
export * from './public.decorator';
export * from './roles.decorator';
export * from './route-policies';
export * from './service-auth.config';
export * from './service-auth.errors';
export * from './service-auth.guard';
export * from './service-auth.module';
export * from './client-revocations';
export * from './verified-tokens';
