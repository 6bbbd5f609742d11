export * from './address-policy.js';
export * from './signature.js';
export * from './retry-policy.js';
