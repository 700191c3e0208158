export * from './audit-event.builder';
export * from './audit-search';
export * from './audit.controller';
export * from './audit.service';
export * from './migrations';
