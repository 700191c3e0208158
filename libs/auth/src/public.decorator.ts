import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'carerelay:auth:public';

/**
 * Marks a route that needs no access token: the FHIR API's metadata, SMART configuration, JWKS
 * and token endpoint; every service's health and metrics (no PHI).
 */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);
