/** The schema this instance of the service works in (tests run several side by side). */
export const DIRECTORY_SCHEMA_TOKEN = Symbol('DIRECTORY_SCHEMA');
