// The auth module's public API (SMART Backend Services, scopes, visibility) and the audit trail.
export * from './access-token';
export * from './assert-scope';
export * from './auth.config';
export * from './auth.guard';
export * from './auth.module';
export * from './client-registry';
export * from './jti-store';
export * from './migrations';
export * from './public.decorator';
export * from './request-actor';
export * from './scopes';
export * from './signing-key';
export * from './smart.controller';
export * from './token-request';
export * from './token.service';
