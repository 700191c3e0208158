/** The schema this instance of the service works in (tests run several side by side). */
export const REFERRAL_SCHEMA_TOKEN = Symbol('REFERRAL_SCHEMA');
