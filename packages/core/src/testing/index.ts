/**
 * The conformance suite every keymint backend runs: `@keymint/core/testing`.
 * @example
 * import { describeBackendConformance } from '@keymint/core/testing';
 * describeBackendConformance('software', () => softwareBackend());
 */
export { describeBackendConformance, type ConformanceOptions } from './conformance.js';
export { conformanceCases, type ConformanceCase } from './cases.js';
export { verifyCompactJws, type Verifier } from '../verify.js';
export { keyParamsArbitrary } from './arbitraries.js';
export { hostileRsaJwk } from './hostile-keys.js';
export { generateContext } from '../create-key.js';
