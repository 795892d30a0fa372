import { describe, expect, it } from 'vitest';
import { thrown } from '@keymint/test-kit';
import { ErrorCode, type KeymintError } from '../src/errors.js';
import {
  algorithmsFor,
  assertAlgorithmFits,
  resolveKeySpec,
  useOfAlgorithm,
  type KeyParamsInput,
} from '../src/params.js';

function rejects(input: KeyParamsInput, pattern: RegExp): void {
  const error = thrown<KeymintError>(() => resolveKeySpec(input), ErrorCode.PARAM_INVALID);
  // Written as the CLI shows them (--crv); the API message names the parameter (crv), checked below.
  const { message, hint } = error.render((name) => `--${name}`);
  expect(hint === undefined ? message : `${message}; ${hint}`).toMatch(pattern);
  expect(error.message).not.toContain('\n');
  expect(error.message).not.toMatch(/--(kty|crv|size|alg|use|kid)\b/);
  expect(['kty', 'crv', 'size', 'alg', 'use', 'kid']).toContain(error.param);
}

describe('defaults (REFERENCE §1)', () => {
  it.each([
    [{}, { kty: 'EC', crv: 'P-256', use: 'sig', alg: 'ES256' }],
    [
      { kty: 'EC', crv: 'P-384' },
      { kty: 'EC', crv: 'P-384', use: 'sig', alg: 'ES384' },
    ],
    [
      { kty: 'EC', crv: 'P-521' },
      { kty: 'EC', crv: 'P-521', use: 'sig', alg: 'ES512' },
    ],
    [
      { kty: 'EC', crv: 'secp256k1' },
      { kty: 'EC', crv: 'secp256k1', use: 'sig', alg: 'ES256K' },
    ],
    [
      { kty: 'EC', use: 'enc' },
      { kty: 'EC', crv: 'P-256', use: 'enc', alg: 'ECDH-ES' },
    ],
    [{ kty: 'OKP' }, { kty: 'OKP', crv: 'Ed25519', use: 'sig', alg: 'EdDSA' }],
    [
      { kty: 'OKP', crv: 'Ed448' },
      { kty: 'OKP', crv: 'Ed448', use: 'sig', alg: 'EdDSA' },
    ],
    [
      { kty: 'OKP', crv: 'X25519', use: 'enc' },
      { kty: 'OKP', crv: 'X25519', use: 'enc', alg: 'ECDH-ES' },
    ],
    [
      { kty: 'OKP', crv: 'X448', use: 'enc' },
      { kty: 'OKP', crv: 'X448', use: 'enc', alg: 'ECDH-ES' },
    ],
    [{ kty: 'RSA' }, { kty: 'RSA', size: 2048, use: 'sig', alg: 'RS256' }],
    [
      { kty: 'RSA', use: 'enc' },
      { kty: 'RSA', size: 2048, use: 'enc', alg: 'RSA-OAEP-256' },
    ],
    [{ kty: 'oct' }, { kty: 'oct', size: 256, use: 'sig', alg: 'HS256' }],
    [
      { kty: 'oct', alg: 'HS512' },
      { kty: 'oct', size: 512, use: 'sig', alg: 'HS512' },
    ],
    [
      { kty: 'oct', use: 'enc' },
      { kty: 'oct', size: 256, use: 'enc', alg: 'A256GCMKW' },
    ],
    [
      { kty: 'oct', use: 'enc', alg: 'A128KW' },
      { kty: 'oct', size: 128, use: 'enc', alg: 'A128KW' },
    ],
    [
      { kty: 'oct', use: 'enc', alg: 'A192GCMKW' },
      { kty: 'oct', size: 192, use: 'enc', alg: 'A192GCMKW' },
    ],
    [
      { kty: 'oct', use: 'enc', alg: 'dir' },
      { kty: 'oct', size: 128, use: 'enc', alg: 'dir' },
    ],
    [
      { kty: 'oct', use: 'other' },
      { kty: 'oct', size: 128, use: 'other' },
    ],
    [
      { kty: 'RSA', use: 'other', alg: 'anything' },
      { kty: 'RSA', size: 2048, use: 'other', alg: 'anything' },
    ],
    [
      { kty: 'EC', kid: 'k1' },
      { kty: 'EC', crv: 'P-256', use: 'sig', alg: 'ES256', kid: 'k1' },
    ],
    [
      { kty: 'RSA', size: '4096' },
      { kty: 'RSA', size: 4096, use: 'sig', alg: 'RS256' },
    ],
    [
      { kty: 'RSA', size: 1024, insecure: true },
      { kty: 'RSA', size: 1024, use: 'sig', alg: 'RS256' },
    ],
    [
      { kty: 'oct', size: 64, insecure: true, use: 'other' },
      { kty: 'oct', size: 64, use: 'other' },
    ],
    // A size and no alg: the strongest alg the size fits (issue 12), not a default it conflicts with.
    [
      { kty: 'oct', size: 1024 },
      { kty: 'oct', size: 1024, use: 'sig', alg: 'HS512' },
    ],
    [
      { kty: 'oct', size: 384 },
      { kty: 'oct', size: 384, use: 'sig', alg: 'HS384' },
    ],
    [
      { kty: 'oct', size: 320 },
      { kty: 'oct', size: 320, use: 'sig', alg: 'HS256' },
    ],
    [
      { kty: 'oct', size: 192, use: 'enc' },
      { kty: 'oct', size: 192, use: 'enc', alg: 'A192GCMKW' },
    ],
    [
      { kty: 'oct', size: 128, use: 'enc' },
      { kty: 'oct', size: 128, use: 'enc', alg: 'A128GCMKW' },
    ],
    [
      { kty: 'oct', size: 512, use: 'enc' },
      { kty: 'oct', size: 512, use: 'enc', alg: 'dir' },
    ],
    [
      { kty: 'oct', size: 64, use: 'wrap', insecure: true },
      { kty: 'oct', size: 64, use: 'wrap' },
    ],
    [
      { kty: 'RSA', use: 'enc', alg: 'RSA1_5', subtle: true },
      { kty: 'RSA', size: 2048, use: 'enc', alg: 'RSA1_5' },
    ],
  ] as [KeyParamsInput, object][])('%j resolves to %j', (input, expected) => {
    expect(resolveKeySpec(input)).toEqual(expected);
  });
});

describe('rules (REFERENCE §1)', () => {
  it.each([
    [{ kty: 'ec' }, /--kty "ec" is not a key type: use EC, OKP, RSA or oct/],
    [{ kty: 'DSA' }, /not a key type/],
    [{ kty: 'EC', crv: 'p-256' }, /--crv "p-256" is not a curve for --kty EC: use P-256, P-384, P-521 or secp256k1/],
    [{ kty: 'EC', crv: 'Ed25519' }, /not a curve for --kty EC/],
    [{ kty: 'OKP', crv: 'P-256' }, /not a curve for --kty OKP: use Ed25519, Ed448, X25519 or X448/],
    [{ kty: 'RSA', crv: 'P-256' }, /--crv is not allowed with --kty RSA/],
    [{ kty: 'oct', crv: 'P-256' }, /--crv is not allowed with --kty oct/],
    [{ kty: 'EC', size: 256 }, /--size is not allowed with --kty EC/],
    [{ kty: 'OKP', size: 256 }, /--size is not allowed with --kty OKP/],
    [{ kty: 'RSA', size: 'abc' }, /--size "abc" is not a number/],
    [{ kty: 'RSA', size: '2048bits' }, /not a number/],
    [{ kty: 'RSA', size: '-2048' }, /not a number/],
    [{ kty: 'RSA', size: 0 }, /not a positive number/],
    [{ kty: 'RSA', size: 1024 }, /--size 1024 is too small for --kty RSA: the minimum is 2048 bits/],
    [
      { kty: 'oct', size: 128 },
      /^--size 128 fits no --alg for --use sig: the default, HS256, needs at least 256 bits; give --size 256 bits or more/,
    ],
    [
      { kty: 'oct', size: 200, use: 'enc' },
      /^--size 200 fits no --alg for --use enc: the default, A256GCMKW, needs exactly 256 bits; give --size 128, 192 or 256 \(AES key wrap\), or 384 or 512 \(dir\)/,
    ],
    [{ kty: 'RSA', size: 256, insecure: true }, /the minimum is 512 bits/],
    [{ kty: 'RSA', size: 32768 }, /too large/],
    [{ kty: 'oct', use: 'other', size: 64 }, /too small for --kty oct: the minimum is 128 bits/],
    [{ kty: 'oct', use: 'other', size: 129 }, /not a whole number of bytes/],
    [
      { kty: 'oct', use: 'enc', alg: 'A128KW', size: 256 },
      /--size 256 conflicts with --alg A128KW, which needs a 128-bit key/,
    ],
    [{ kty: 'oct', use: 'enc', alg: 'A256GCMKW', size: 128 }, /conflicts with --alg A256GCMKW/],
    [{ kty: 'oct', alg: 'HS512', size: 256 }, /too small for --alg HS512: it needs at least 512 bits/],
    [{ kty: 'oct', use: 'enc', alg: 'dir', size: 136 }, /not a content-encryption key size/],
    [{ kty: 'EC', alg: 'ES384' }, /--alg "ES384" does not fit --kty EC --crv P-256 --use sig: use ES256/],
    [{ kty: 'EC', crv: 'P-521', alg: 'ES256' }, /use ES512/],
    [{ kty: 'EC', crv: 'P-256', alg: 'ES256K' }, /use ES256/],
    [{ kty: 'EC', crv: 'secp256k1', alg: 'ES256' }, /use ES256K/],
    [{ kty: 'RSA', alg: 'RSA-OAEP' }, /RSA-OAEP is an algorithm for --use enc/],
    [
      { kty: 'RSA', use: 'enc', alg: 'RS256' },
      /does not fit --kty RSA --use enc: use RSA1_5, RSA-OAEP or RSA-OAEP-256/,
    ],
    [{ kty: 'RSA', use: 'enc', alg: 'RSA1_5' }, /RSA1_5 is unsafe .* needs --subtle/],
    [{ kty: 'RSA', alg: 'ES256' }, /does not fit --kty RSA/],
    [{ kty: 'oct', alg: 'RS256' }, /use HS256, HS384 or HS512/],
    [{ kty: 'oct', use: 'enc', alg: 'HS256' }, /use dir, A128KW/],
    [{ kty: 'OKP', use: 'enc' }, /--crv Ed25519 is a signing curve: it cannot encrypt.*X25519 or X448/],
    [{ kty: 'OKP', crv: 'Ed448', use: 'enc' }, /signing curve/],
    [{ kty: 'OKP', crv: 'X25519' }, /--crv X25519 is a key-agreement curve: it cannot sign/],
    [{ kty: 'OKP', crv: 'X448', alg: 'EdDSA' }, /key-agreement curve/],
    [{ kty: 'OKP', crv: 'Ed25519', alg: 'ES256' }, /use EdDSA/],
    [{ kty: 'EC', use: 'enc', alg: 'PBES2-HS256+A128KW' }, /for deriving keys from passwords/],
    [{ kty: 'oct', use: 'enc', alg: 'PBES2-HS512+A256KW' }, /passwords/],
    [{ kty: 'EC', use: '' }, /--use must not be empty/],
    [{ kty: 'EC', kid: '' }, /--kid must not be empty/],
    [{ kty: 'EC', alg: '' }, /--alg must not be empty/],
  ] as [KeyParamsInput, RegExp][])('%j is refused: %s', (input, pattern) => {
    rejects(input, pattern);
  });

  it('accepts every enc algorithm of the table for each key type', () => {
    expect(algorithmsFor('oct', undefined, 'enc')).toEqual([
      'dir',
      'A128KW',
      'A192KW',
      'A256KW',
      'A128GCMKW',
      'A192GCMKW',
      'A256GCMKW',
    ]);
    expect(algorithmsFor('EC', 'P-384', 'enc')).toEqual([
      'ECDH-ES',
      'ECDH-ES+A128KW',
      'ECDH-ES+A192KW',
      'ECDH-ES+A256KW',
    ]);
    expect(algorithmsFor('OKP', 'X448', 'enc')).toEqual([
      'ECDH-ES',
      'ECDH-ES+A128KW',
      'ECDH-ES+A192KW',
      'ECDH-ES+A256KW',
    ]);
    expect(algorithmsFor('OKP', 'Ed25519', 'enc')).toEqual([]);
    expect(algorithmsFor('RSA', undefined, 'sig')).toEqual(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']);
    expect(algorithmsFor('RSA', undefined, 'other')).toEqual([]);
  });

  it('knows which use an algorithm belongs to', () => {
    expect(useOfAlgorithm('ES256K')).toBe('sig');
    expect(useOfAlgorithm('EdDSA')).toBe('sig');
    expect(useOfAlgorithm('ECDH-ES+A256KW')).toBe('enc');
    expect(useOfAlgorithm('dir')).toBe('enc');
    expect(useOfAlgorithm('none')).toBeUndefined();
  });

  it('checks that an algorithm fits a key', () => {
    expect(() => assertAlgorithmFits({ kty: 'EC', crv: 'P-256' }, 'ES256')).not.toThrow();
    expect(() => assertAlgorithmFits({ kty: 'EC', crv: 'P-256' }, 'ES384')).toThrow(
      /ES384 does not fit a EC P-256 key: use ES256/,
    );
    expect(() => assertAlgorithmFits({ kty: 'OKP', crv: 'X25519' }, 'EdDSA')).toThrow(/cannot be used for signing/);
    expect(() => assertAlgorithmFits({ kty: 'RSA' }, 'PS512')).not.toThrow();
    expect(() => assertAlgorithmFits({ kty: 'oct' }, 'RS256')).toThrow(/use HS256, HS384 or HS512/);
  });
});
