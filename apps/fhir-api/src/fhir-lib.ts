// The one place this app imports libs/fhir from.
export * from '@carerelay/fhir';
