/** The service's validated configuration, for providers that need more than one setting. */
export const REFERRAL_CONFIG = Symbol('REFERRAL_CONFIG');
