import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTool, useSoftHsm } from '@keymint/test-kit';
import { createKey, type KeyParams, type NewKey } from '@keymint/core';
import { parsePkcs11Uri, pkcs11Backend, type Pkcs11Backend } from '../src/index.js';
import { SOFTHSM_TOKENS } from './fixtures/softhsm-tokens.js';
import { referenceUri } from './fixtures/sign-check.js';

const softhsm = useSoftHsm();
const TOKEN = SOFTHSM_TOKENS.inspect;
const PIN = softhsm.pin;
const dir = mkdtempSync(join(tmpdir(), 'keymint-pkcs11-tool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** pkcs11-tool's -O listing, one block per object, keyed by "<class>:<label>". */
function listObjects(): Map<string, string> {
  const out = runTool('pkcs11-tool', [
    '--module',
    softhsm.module,
    '--token-label',
    TOKEN,
    '--login',
    '--pin',
    PIN,
    '-O',
  ]);
  const blocks = new Map<string, string>();
  for (const block of out.split(/\n(?=\S)/)) {
    const cls = /^(Private|Public|Secret) Key Object/.exec(block)?.[1];
    const label = /^\s+label:\s+(.*)$/m.exec(block)?.[1];
    if (cls !== undefined && label !== undefined) blocks.set(`${cls}:${label.trim()}`, block);
  }
  return blocks;
}

function field(block: string | undefined, name: string): string {
  return new RegExp(`^\\s+${name}:\\s+(.*)$`, 'm').exec(block ?? '')?.[1]?.trim() ?? '';
}

/** The public key as pkcs11-tool reads it from the token, through openssl, as a JWK. */
function publicKeyFromToken(id: string): JsonWebKey {
  const file = join(dir, `${id}.pub`);
  runTool('pkcs11-tool', [
    '--module',
    softhsm.module,
    '--token-label',
    TOKEN,
    '--read-object',
    '--type',
    'pubkey',
    '--id',
    id,
    '-o',
    file,
  ]);
  // pkcs11-tool writes SPKI DER for RSA and EC, PEM for EdDSA.
  const inform = readFileSync(file).subarray(0, 10).toString('latin1').startsWith('-----BEGIN') ? 'PEM' : 'DER';
  const pem = runTool('openssl', ['pkey', '-pubin', '-inform', inform, '-in', file, '-pubout']);
  return createPublicKey(pem).export({ format: 'jwk' });
}

const KEYS: Array<[string, KeyParams, string]> = [
  ['EC P-256 sig', { kty: 'EC', crv: 'P-256' }, 'sign'],
  ['EC P-521 sig', { kty: 'EC', crv: 'P-521' }, 'sign'],
  ['Ed25519 sig', { kty: 'OKP', crv: 'Ed25519' }, 'sign'],
  ['RSA 2048 sig', { kty: 'RSA', size: 2048, alg: 'PS256' }, 'sign'],
  ['RSA 2048 enc', { kty: 'RSA', size: 2048, use: 'enc' }, 'decrypt, unwrap'],
  ['EC P-384 enc', { kty: 'EC', crv: 'P-384', use: 'enc' }, 'derive'],
];

describe('an independent look with pkcs11-tool (OpenSC)', () => {
  let backend: Pkcs11Backend;
  const made = new Map<string, NewKey>();
  beforeAll(async () => {
    backend = await pkcs11Backend({ uri: softhsm.uri(TOKEN) });
    for (const [name, params] of KEYS) made.set(name, await createKey(backend, params));
  });
  afterAll(async () => {
    await backend.close();
  });

  for (const [name, , usage] of KEYS) {
    it(`${name}: the private key is sensitive, always sensitive, never extractable, and only for ${usage}`, () => {
      const key = made.get(name)!;
      const objects = listObjects();
      const block = objects.get(`Private:${key.kid as string}`);
      expect(block, `pkcs11-tool lists the private key labelled ${key.kid as string}`).toBeDefined();
      const access = field(block, 'Access').split(', ');
      expect(access).toEqual(expect.arrayContaining(['sensitive', 'always sensitive', 'never extractable']));
      expect(access).not.toContain('extractable');
      expect(field(block, 'Usage')).toBe(usage);
      expect(field(block, 'ID')).toBe(Buffer.from(parsePkcs11Uri(referenceUri(key.private)).id!).toString('hex'));
    });

    it(`${name}: the public key pkcs11-tool reads is the public JWK`, () => {
      const key = made.get(name)!;
      const jwk = key.publicJwk!;
      if (jwk.kty !== 'RSA') {
        // The CKA_EC_POINT pkcs11-tool lists: the DER OCTET STRING around the point of the JWK.
        const point = Buffer.concat([
          ...(jwk.kty === 'EC' ? [Buffer.of(4)] : []),
          Buffer.from(jwk.x!, 'base64url'),
          Buffer.from(jwk.y ?? '', 'base64url'),
        ]);
        const der = Buffer.concat([
          Buffer.of(4),
          point.length < 128 ? Buffer.of(point.length) : Buffer.of(0x81, point.length),
          point,
        ]);
        expect(field(listObjects().get(`Public:${key.kid as string}`), 'EC_POINT')).toBe(der.toString('hex'));
      }
      // pkcs11-tool 0.23 cannot export an EC public key that may not verify ("cannot create EVP_PKEY"): ECDH keys are checked by their point only.
      if (name.startsWith('EC') && name.endsWith('enc')) return;
      const id = Buffer.from(parsePkcs11Uri(referenceUri(key.private)).id!).toString('hex');
      const fromToken = publicKeyFromToken(id);
      for (const member of ['kty', 'crv', 'x', 'y', 'n', 'e'] as const)
        expect(fromToken[member], member).toBe(jwk[member]);
    });
  }

  it('oct keys: secret, sensitive, never extractable; AES for A*GCMKW with encrypt and decrypt only', async () => {
    const key = await createKey(backend, { kty: 'oct', use: 'enc', alg: 'A128GCMKW' });
    const label = parsePkcs11Uri(referenceUri(key.private)).object!;
    const block = listObjects().get(`Secret:${label}`);
    expect(block).toMatch(/Secret Key Object; AES length 16/);
    expect(field(block, 'Access').split(', ')).toEqual(
      expect.arrayContaining(['sensitive', 'always sensitive', 'never extractable']),
    );
    expect(field(block, 'Usage')).toBe('encrypt, decrypt');
  });
});
