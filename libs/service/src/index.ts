export * from './service.bootstrap';
export * from './service.modules';
export * from './management.listener';
export * from './tls.listener';
export * from './table-maintenance.module';
