import fc from 'fast-check';
import { EC_CURVES, KEY_TYPES, OKP_CURVES, algorithmsFor, type KeyParamsInput } from '../params.js';

const ALL_ALGS = [
  ...new Set(
    KEY_TYPES.flatMap((kty) =>
      ['sig', 'enc'].flatMap((use) =>
        (kty === 'EC' ? EC_CURVES : kty === 'OKP' ? OKP_CURVES : [undefined]).flatMap((crv) =>
          algorithmsFor(kty, crv, use),
        ),
      ),
    ),
  ),
];

/**
 * Random `create` parameters: valid values, near misses (wrong case, stray spaces) and noise, so a
 * property over them reaches both the accepted and the refused side of every rule.
 */
export const keyParamsArbitrary: fc.Arbitrary<KeyParamsInput> = fc.record(
  {
    kty: fc.oneof(
      { arbitrary: fc.constantFrom(...KEY_TYPES), weight: 8 },
      fc.constantFrom('ec', 'RSA ', 'DSA', ''),
      fc.string(),
    ),
    crv: fc.oneof(
      { arbitrary: fc.constantFrom(...EC_CURVES, ...OKP_CURVES), weight: 8 },
      fc.constantFrom('p-256', 'P256', 'ed25519'),
      fc.string(),
    ),
    size: fc.oneof(
      { arbitrary: fc.constantFrom(8, 64, 128, 192, 256, 384, 512, 520, 1024, 2048, '2048', '256'), weight: 8 },
      fc.integer({ min: -10, max: 40_000 }),
      fc.string(),
      fc.constantFrom('0x800', '2e3', ' 2048', '2048bits'),
    ),
    alg: fc.oneof(
      { arbitrary: fc.constantFrom(...ALL_ALGS), weight: 8 },
      fc.constantFrom('none', 'PBES2-HS256+A128KW', 'es256'),
      fc.string(),
    ),
    use: fc.oneof({ arbitrary: fc.constantFrom('sig', 'enc'), weight: 8 }, fc.constantFrom('', 'other', 'SIG')),
    kid: fc.oneof({ arbitrary: fc.string({ minLength: 1 }), weight: 8 }, fc.constant('')),
    insecure: fc.boolean(),
    subtle: fc.boolean(),
  },
  { requiredKeys: [] },
);
