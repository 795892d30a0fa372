import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompactEncrypt, compactDecrypt, importJWK } from 'jose';
import { expect } from 'vitest';
import { PYTHON, expectOk } from '@keymint/test-kit';
import { REPO, keymint, type Jwk, type RunOptions } from '../helpers.js';

/** jwcrypto (Debian's python3-jwcrypto), driven by a script of its own: independent of keymint and jose. */
const JWCRYPTO = join(REPO, 'test', 'jwe', 'fixtures', 'jwcrypto-jwe.py');

/** Each key management algorithm of the issue, with the key that `keymint create` makes for it. */
export interface AlgCase {
  alg: string;
  /** `keymint create` flags for a key made for this alg. */
  flags: string[];
  /** The "enc" the case is tried with (the cases go round all six). */
  enc: string;
}

export const ENCS = ['A128GCM', 'A192GCM', 'A256GCM', 'A128CBC-HS256', 'A192CBC-HS384', 'A256CBC-HS512'];
const ECDH = ['ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A192KW', 'ECDH-ES+A256KW'];

/** Every algorithm the issue lists, on every curve it lists, each with an enc of its own. */
export function algCases(
  curves: readonly string[] = ['P-256', 'P-384', 'P-521', 'X25519', 'X448'],
  oct = true,
): AlgCase[] {
  const cases: Omit<AlgCase, 'enc'>[] = [
    { alg: 'RSA-OAEP', flags: ['--kty', 'RSA'] },
    { alg: 'RSA-OAEP-256', flags: ['--kty', 'RSA'] },
    { alg: 'RSA1_5', flags: ['--kty', 'RSA', '--subtle'] },
    ...curves.flatMap((crv) =>
      ECDH.map((alg) => ({ alg, flags: ['--kty', crv.startsWith('X') ? 'OKP' : 'EC', '--crv', crv] })),
    ),
    ...(oct
      ? ['A128KW', 'A192KW', 'A256KW', 'A128GCMKW', 'A192GCMKW', 'A256GCMKW'].map((alg) => ({
          alg,
          flags: ['--kty', 'oct'],
        }))
      : []),
  ];
  const withEnc = cases.map((c, i) => ({
    ...c,
    flags: [...c.flags, '--use', 'enc', '--alg', c.alg],
    enc: ENCS[i % ENCS.length] as string,
  }));
  // dir: the enc is the key's (A256CBC-HS512 takes a 512-bit key).
  return oct
    ? [
        ...withEnc,
        { alg: 'dir', flags: ['--kty', 'oct', '--use', 'enc', '--alg', 'dir', '--size', '512'], enc: 'A256CBC-HS512' },
      ]
    : withEnc;
}

/** A name for a case: `ECDH-ES+A128KW P-384 with A128CBC-HS256`. */
export function caseName(c: AlgCase): string {
  const crv = c.flags[c.flags.indexOf('--crv') + 1];
  return `${c.alg}${c.flags.includes('--crv') ? ` ${crv}` : ''} with ${c.enc}`;
}

/** jose 6 has neither RSA1_5 nor ECDH on X448: those cases are checked with jwcrypto only. */
export function joseHas(c: AlgCase): boolean {
  return c.alg !== 'RSA1_5' && !c.flags.includes('X448');
}

/** Runs jwcrypto-jwe.py; fails the test, with its stderr, if it fails. */
export function jwcrypto(args: readonly string[], input: string | Buffer, cwd: string): Buffer {
  const result = spawnSync(PYTHON, [JWCRYPTO, ...args], { cwd, input });
  if (result.error) throw result.error;
  expect(result.status, `jwcrypto ${args.join(' ')}: ${result.stderr.toString()}`).toBe(0);
  return result.stdout;
}

/** The JWK in a file of `dir` (the public file of a key, or an oct key's file). */
export function readKey(dir: string, name: string): Jwk {
  return JSON.parse(readFileSync(join(dir, name), 'utf8')) as Jwk;
}

/** A JWE made by jose to a JWK (public, or oct). */
export async function joseEncrypt(jwk: Jwk, alg: string, enc: string, payload: string): Promise<string> {
  const key = await importJWK(jwk as Parameters<typeof importJWK>[0], alg);
  return new CompactEncrypt(new TextEncoder().encode(payload))
    .setProtectedHeader({ alg, enc, ...(typeof jwk.kid === 'string' ? { kid: jwk.kid } : {}) })
    .encrypt(key);
}

/** The plaintext jose gets from a JWE, with a private JWK. */
export async function joseDecrypt(jwe: string, jwk: Jwk, alg: string): Promise<string> {
  const key = await importJWK(jwk as Parameters<typeof importJWK>[0], alg);
  return Buffer.from((await compactDecrypt(jwe, key)).plaintext).toString('utf8');
}

/** Encrypts `payload` with the built CLI to the key file, and returns the compact JWE. */
export async function keymintEncrypt(
  keyFile: string,
  payload: string,
  options: RunOptions,
  flags: readonly string[] = [],
): Promise<string> {
  writeFileSync(join(options.cwd, 'payload.txt'), payload);
  const result = expectOk(await keymint(['encrypt', '--key', keyFile, ...flags, 'payload.txt'], options));
  return result.stdout.trim();
}

/** Decrypts a JWE with the built CLI and the key file, and returns the plaintext. */
export async function keymintDecrypt(
  keyFile: string,
  jwe: string,
  options: RunOptions,
  flags: readonly string[] = [],
): Promise<string> {
  writeFileSync(join(options.cwd, 'message.jwe'), jwe);
  return expectOk(await keymint(['decrypt', '--key', keyFile, ...flags, 'message.jwe'], options)).stdout;
}
