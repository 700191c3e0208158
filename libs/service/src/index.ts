export * from './service.bootstrap';
export * from './service.modules';
