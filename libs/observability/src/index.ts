export * from './health.controller';
export * from './metrics';
export * from './observability.module';
export * from './logger';
export * from './correlation';
