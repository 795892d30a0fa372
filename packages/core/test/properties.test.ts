import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeymintError } from '../src/errors.js';
import { encryptJwk, decryptJwk } from '../src/jwe.js';
import { parseKeyDocument } from '../src/key-document.js';
import { resolveKeySpec } from '../src/params.js';
import { keyParamsArbitrary as params } from '../src/testing/arbitraries.js';
import { importPem } from '../src/pem.js';
import { newKeyPair } from '@keymint/test-kit';

/** At least this many generated cases per parser, as the robustness issue asks. */
const PARSER_RUNS = 10_000;

/** Runs `op`; anything it throws must be a KeymintError with a one-line message. */
async function onlyTypedErrors(op: () => unknown): Promise<'ok' | string> {
  try {
    await op();
    return 'ok';
  } catch (error) {
    if (!(error instanceof KeymintError)) throw new Error(`untyped error: ${String(error)}`, { cause: error });
    if (error.message.includes('\n')) throw new Error(`multi-line message: ${error.message}`);
    return error.code;
  }
}

describe('random key parameters', () => {
  it(`are either resolved to a spec or refused with ERR_PARAM_INVALID (${PARSER_RUNS} cases)`, async () => {
    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(params, async (input) => {
        const outcome = await onlyTypedErrors(() => resolveKeySpec(input));
        expect(['ok', 'ERR_PARAM_INVALID']).toContain(outcome);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }),
      { numRuns: PARSER_RUNS },
    );
    // The generator must reach both sides, or the property says little.
    expect(outcomes.get('ok') ?? 0).toBeGreaterThan(100);
    expect(outcomes.get('ERR_PARAM_INVALID') ?? 0).toBeGreaterThan(100);
  });
});

const EC_JWK = newKeyPair('ec', { namedCurve: 'prime256v1' }).privateJwk;
const RSA_PEM = newKeyPair('rsa', { modulusLength: 1024 })
  .privateKey.export({ format: 'pem', type: 'pkcs8' })
  .toString();
const EC_PEM = newKeyPair('ec', { namedCurve: 'prime256v1' })
  .privateKey.export({ format: 'pem', type: 'sec1' })
  .toString();

/** A string with a few characters replaced, cut, or repeated: inputs near a valid one. */
function mutated(valid: string): fc.Arbitrary<string> {
  const edit = fc.record({
    at: fc.nat({ max: valid.length }),
    len: fc.nat({ max: 8 }),
    text: fc.string({ maxLength: 8 }),
  });
  return fc
    .array(edit, { minLength: 1, maxLength: 4 })
    .map((edits) =>
      edits.reduce(
        (s, e) => s.slice(0, Math.min(e.at, s.length)) + e.text + s.slice(Math.min(e.at, s.length) + e.len),
        valid,
      ),
    );
}

describe(`parsers on random and mutated input (${PARSER_RUNS} cases each)`, () => {
  it('the key file reader (JWK, JWK Set, JWE, reference) throws only typed errors', async () => {
    const valid = JSON.stringify(EC_JWK);
    const inputs = fc.oneof(
      fc.string(),
      fc.json(),
      mutated(valid),
      mutated(JSON.stringify({ keys: [EC_JWK] })),
      fc.jsonValue().map((v) => JSON.stringify(v)),
    );
    await fc.assert(
      fc.asyncProperty(inputs, async (text) => {
        expect(['ok', 'ERR_INPUT_INVALID']).toContain(await onlyTypedErrors(() => parseKeyDocument(text, 'input')));
      }),
      { numRuns: PARSER_RUNS },
    );
  });

  it('the JWE reader throws only typed errors, and never accepts a changed file', async () => {
    const valid = await encryptJwk(EC_JWK as never, 'password', { pbes2Count: 1000 });
    const compact = (() => {
      const j = JSON.parse(valid);
      return [j.protected, j.encrypted_key, j.iv, j.ciphertext, j.tag].join('.');
    })();
    const inputs = fc.oneof(mutated(valid), mutated(compact), fc.string(), fc.json());
    let opened = 0;
    await fc.assert(
      fc.asyncProperty(inputs, async (text) => {
        const outcome = await onlyTypedErrors(async () => {
          const jwk = await decryptJwk(text, 'password');
          opened++;
          // Only edits that leave the bytes the same (whitespace in the JSON) may still open.
          expect(jwk).toEqual(EC_JWK);
        });
        expect(['ok', 'ERR_INPUT_INVALID', 'ERR_DECRYPT_FAILED']).toContain(outcome);
      }),
      { numRuns: PARSER_RUNS },
    );
    expect(opened).toBeLessThan(PARSER_RUNS / 2);
  });

  it('the PEM reader throws only typed errors', async () => {
    const inputs = fc.oneof(
      mutated(RSA_PEM),
      mutated(EC_PEM),
      fc.string(),
      fc.string().map((s) => `-----BEGIN PRIVATE KEY-----\n${s}\n-----END PRIVATE KEY-----\n`),
    );
    await fc.assert(
      fc.asyncProperty(inputs, async (text) => {
        const outcome = await onlyTypedErrors(() => importPem(text, { password: async () => 'password' }));
        expect(['ok', 'ERR_INPUT_INVALID', 'ERR_ALG_NOT_SUPPORTED', 'ERR_DECRYPT_FAILED']).toContain(outcome);
      }),
      { numRuns: PARSER_RUNS },
    );
  });
});
