import { createPublicKey, type JsonWebKey } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createKey, resolveKeySpec, type KeyParams } from '@keymint/core';
import { keyParamsArbitrary } from '@keymint/core/testing';
import { softwareBackend } from '../src/index.js';

describe('random accepted parameters', () => {
  it('produce a valid key of exactly that kind (300 keys)', async () => {
    const backend = await softwareBackend();
    // RSA up to 2048 bits keeps 300 key generations quick; sizes above are covered by the rules.
    const accepted = keyParamsArbitrary.filter((p) => {
      try {
        const spec = resolveKeySpec(p);
        return spec.kty !== 'RSA' || (spec.size ?? 0) <= 2048;
      } catch {
        return false;
      }
    });
    await fc.assert(
      fc.asyncProperty(accepted, async (input) => {
        const spec = resolveKeySpec(input);
        // Random strings, typed or not: core checks every value at run time.
        const key = await createKey(backend, input as KeyParams);
        expect(key.spec).toEqual(spec);
        if (spec.kty === 'oct') {
          const jwk = key.private?.kind === 'jwk' ? key.private.jwk : undefined;
          expect(Buffer.from(jwk?.k ?? '', 'base64url').length * 8).toBe(spec.size);
          return;
        }
        const pub = key.publicJwk;
        expect(pub?.kty).toBe(spec.kty);
        expect(pub?.crv).toBe(spec.crv);
        expect(pub?.alg).toBe(spec.alg);
        expect(pub?.kid).toBe(spec.kid ?? key.thumbprint);
        const node = createPublicKey({ key: pub as JsonWebKey, format: 'jwk' });
        if (spec.kty === 'RSA') expect(node.asymmetricKeyDetails?.modulusLength).toBe(spec.size);
      }),
      { numRuns: 300 },
    );
  });
});
