import { describe, expect, it } from 'vitest';
import { resolveKeySpec, supports, type BackendCapabilities } from '@keymint/core';
import { describeKeyTypes } from '../src/describe-key-types.js';
import { quirksOf } from '../src/module-quirks.js';
import { tokenKeyTypes, type MechanismInfo } from '../src/token-key-types.js';

/** [type, min, max, flags] as C_GetMechanismInfo reported them on this machine. */
type Row = [number, number, number, number];
const table = (rows: Row[]) =>
  new Map<number, MechanismInfo>(
    rows.map(([type, minKeySize, maxKeySize, flags]) => [type, { type, minKeySize, maxKeySize, flags }]),
  );

// SoftHSM 2.6.1 (Debian 12), the mechanisms keymint looks at.
const SOFTHSM = table([
  [0x0, 512, 16384, 0x10000],
  [0x1, 512, 16384, 0x62b00],
  [0x9, 512, 16384, 0x60300],
  [0xd, 512, 16384, 0x2800],
  [0x40, 512, 16384, 0x2800],
  [0x41, 512, 16384, 0x2800],
  [0x42, 512, 16384, 0x2800],
  [0x43, 512, 16384, 0x2800],
  [0x44, 512, 16384, 0x2800],
  [0x45, 512, 16384, 0x2800],
  [0x1040, 112, 521, 0x1910000],
  [0x1041, 112, 521, 0x1902800],
  [0x1050, 112, 521, 0x80000],
  [0x1055, 256, 456, 0x10000],
  [0x1057, 256, 456, 0x2800],
  [0x350, 1, 0x80000000, 0x8000],
  [0x251, 32, 512, 0x2800],
  [0x261, 48, 512, 0x2800],
  [0x271, 64, 512, 0x2800],
  [0x1080, 16, 32, 0x8000],
  [0x1087, 16, 32, 0x300],
  [0x2109, 16, 0x80000000, 0x60000],
]);

// tpm2-pkcs11 1.9 on swtpm 0.7: no EdDSA, RSA up to 3072, no ECDH, no generic secrets, no AES-GCM or key wrap.
const TPM = table([
  [0x0, 1024, 3072, 0x10001],
  [0x1, 1024, 3072, 0x2b01],
  [0xd, 1024, 3072, 0x2801],
  [0x9, 1024, 3072, 0x301],
  [0x40, 1024, 3072, 0x2801],
  [0x41, 1024, 3072, 0x2801],
  [0x42, 1024, 3072, 0x2801],
  [0x43, 1024, 3072, 0x2801],
  [0x44, 1024, 3072, 0x2801],
  [0x45, 1024, 3072, 0x2801],
  [0x1040, 192, 638, 0x10001],
  [0x1041, 192, 638, 0x2801],
  [0x1080, 16, 32, 0x8001],
  [0x1082, 16, 32, 0x301],
  [0x251, 32, 32, 0x2801],
]);

const caps = (keyTypes: BackendCapabilities['keyTypes']): BackendCapabilities => ({ exportable: false, keyTypes });
const can = (c: BackendCapabilities, params: Parameters<typeof resolveKeySpec>[0]) =>
  supports(c, resolveKeySpec(params));

describe('key types from the mechanism list', () => {
  it('SoftHSM: every key type keymint makes on tokens', () => {
    const c = caps(tokenKeyTypes(SOFTHSM, quirksOf({ manufacturer: 'SoftHSM' })));
    for (const params of [
      { kty: 'RSA', size: 2048 },
      { kty: 'RSA', size: 4096, alg: 'PS512' },
      { kty: 'RSA', use: 'enc', alg: 'RSA-OAEP-256' },
      { kty: 'EC', crv: 'P-256' },
      { kty: 'EC', crv: 'P-384' },
      { kty: 'EC', crv: 'P-521' },
      { kty: 'EC', crv: 'P-521', use: 'enc' },
      { kty: 'OKP', crv: 'Ed25519' },
      { kty: 'oct', alg: 'HS512' },
      { kty: 'oct', use: 'enc', alg: 'A192KW' },
      { kty: 'oct', use: 'enc', alg: 'dir' },
    ]) {
      expect(can(c, params), JSON.stringify(params)).toBe(true);
    }
    for (const params of [
      { kty: 'OKP', crv: 'X25519', use: 'enc' },
      { kty: 'OKP', crv: 'Ed448' },
      { kty: 'EC', crv: 'secp256k1' },
      { kty: 'oct', use: 'enc', alg: 'dir', size: 512 },
      { kty: 'RSA', use: 'other' },
    ]) {
      expect(can(c, params), JSON.stringify(params)).toBe(false);
    }
  });

  it('TPM: EC P-256/P-384 and RSA to 3072; no Ed25519, RSA 4096, P-521 (tpm2-pkcs11 gets its point wrong), ECDH, HMAC or AES', () => {
    const c = caps(tokenKeyTypes(TPM, quirksOf({ manufacturer: 'tpm2-software.github.io' })));
    for (const params of [
      { kty: 'EC', crv: 'P-256' },
      { kty: 'EC', crv: 'P-384' },
      { kty: 'RSA', size: 2048 },
      { kty: 'RSA', size: 3072, alg: 'PS256' },
      { kty: 'RSA', use: 'enc' },
    ]) {
      expect(can(c, params), JSON.stringify(params)).toBe(true);
    }
    for (const params of [
      { kty: 'OKP', crv: 'Ed25519' },
      { kty: 'RSA', size: 4096 },
      { kty: 'EC', crv: 'P-521' },
      { kty: 'EC', use: 'enc' },
      { kty: 'oct', alg: 'HS256' },
      { kty: 'oct', use: 'enc' },
    ]) {
      expect(can(c, params), JSON.stringify(params)).toBe(false);
    }
    expect(describeKeyTypes(c.keyTypes).map((line) => line.replace(/:.*$/, ''))).toEqual([
      'RSA 1024-3072',
      'RSA 1024-3072',
      'EC P-256',
      'EC P-384',
    ]);
  });

  it('needs both the generation and the use: ECDSA without EC key generation declares nothing', () => {
    expect(tokenKeyTypes(table([[0x1041, 256, 521, 0x2800]]), quirksOf({ manufacturer: 'x' }))).toEqual([]);
    expect(tokenKeyTypes(table([[0x1040, 256, 521, 0x10000]]), quirksOf({ manufacturer: 'x' }))).toEqual([]);
  });
});
