export * from './topics';
export * from './cloud-event';
export * from './event-schemas';
export * from './event.registry';
