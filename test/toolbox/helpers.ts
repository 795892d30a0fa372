import { execFileSync } from 'node:child_process';
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { expectOk, pythonPbes2Jwe, newKeyPair } from '@keymint/test-kit';
import { FAST, PASSWORD, keymint, type Jwk, type RunOptions, type RunResult } from '../helpers.js';

export { PASSWORD };

/** Runs keymint and expects success. */
export async function ok(args: readonly string[], options: RunOptions): Promise<RunResult> {
  return expectOk(await keymint(args, options));
}

/** A temp dir shared by the tests of one file (for keys made once), removed after them. */
export function sharedDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keymint-toolbox-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A JWK in a file: `dir/name`, returned as `name`. */
export function jwkFile(dir: string, name: string, jwk: unknown): string {
  writeFileSync(join(dir, name), `${JSON.stringify(jwk, null, 2)}\n`, { mode: 0o600 });
  return name;
}

/**
 * Encrypts a JWK as step does, with Python's cryptography (the kit's pythonPbes2Jwe), under
 * PASSWORD unless told otherwise.
 */
export function stepJwe(
  jwk: Jwk,
  form: 'compact' | 'flattened' | 'general',
  enc: string,
  p2c: number,
  options: { password?: string; cty?: boolean } = {},
): string {
  return pythonPbes2Jwe(jwk, {
    form,
    enc,
    p2c,
    password: options.password ?? PASSWORD,
    ...(options.cty === undefined ? {} : { cty: options.cty }),
  });
}

/** Flips one character of a flattened JWE's ciphertext: the GCM tag no longer matches. */
export function corruptJwe(text: string): string {
  const jwe = JSON.parse(text) as Record<string, string>;
  const ct = jwe.ciphertext as string;
  return JSON.stringify({ ...jwe, ciphertext: (ct[0] === 'A' ? 'B' : 'A') + ct.slice(1) }, null, 2);
}

/** A new private JWK from Node's crypto (not from keymint), with kid/alg/use as keymint writes them. */
export function nodeJwk(kind: 'EC P-256' | 'EC P-384' | 'RSA' | 'Ed25519', extra: Partial<Jwk> = {}): Jwk {
  const pair =
    kind === 'RSA'
      ? newKeyPair('rsa', { modulusLength: 2048 })
      : kind === 'Ed25519'
        ? newKeyPair('ed25519')
        : newKeyPair('ec', { namedCurve: kind === 'EC P-256' ? 'prime256v1' : 'secp384r1' });
  return { ...(pair.privateJwk as Jwk), ...extra };
}

export interface KeyPairFiles {
  /** The public JWK file. */
  pub: string;
  /** The private file. */
  priv: string;
  publicJwk: Jwk;
}

/**
 * Makes a key with `keymint create` in `dir`: encrypted under PASSWORD with the fast PBES2 count,
 * or plain with `plain: true`. (`create` has its own tests; these files are the toolbox's inputs.)
 */
export async function createKey(
  dir: string,
  name: string,
  args: readonly string[],
  options: { plain?: boolean } = {},
): Promise<KeyPairFiles> {
  const pass = join(dir, 'pass.txt');
  writeFileSync(pass, `${PASSWORD}\n`);
  const protection = options.plain ? ['--no-password', '--insecure'] : [...FAST, '--password-file', 'pass.txt'];
  await ok(['create', ...protection, ...args, `${name}.pub.json`, `${name}.json`], { cwd: dir });
  return {
    pub: `${name}.pub.json`,
    priv: `${name}.json`,
    publicJwk: JSON.parse(readFileSync(join(dir, `${name}.pub.json`), 'utf8')) as Jwk,
  };
}

/** The password file createKey leaves in `dir`. */
export const PASS_FILE = 'pass.txt';

export const decodePart = (part: string | undefined) =>
  JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;

/** ECDSA r||s (JOSE) to the DER SEQUENCE of two INTEGERs that openssl dgst wants (RFC 7518 §3.4). */
export function joseToDer(signature: Buffer): Buffer {
  const half = signature.length / 2;
  const integer = (bytes: Buffer) => {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    let value = bytes.subarray(i);
    if ((value[0] as number) & 0x80) value = Buffer.concat([Buffer.of(0), value]);
    return Buffer.concat([Buffer.of(0x02, value.length), value]);
  };
  const body = Buffer.concat([integer(signature.subarray(0, half)), integer(signature.subarray(half))]);
  return Buffer.concat([Buffer.of(0x30, body.length), body]);
}

/**
 * Verifies a compact JWS (RS256 or ES256) with `openssl dgst -verify`, a second implementation:
 * the public key as PEM from Node, the signature converted to DER for ECDSA.
 */
export function opensslVerify(dir: string, jws: string, publicJwk: Jwk): boolean {
  const [h, p, s] = jws.split('.') as [string, string, string];
  const alg = decodePart(h).alg;
  const pem = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' }).export({
    type: 'spki',
    format: 'pem',
  }) as string;
  writeFileSync(join(dir, 'ossl.pub.pem'), pem);
  writeFileSync(join(dir, 'ossl.data'), `${h}.${p}`);
  const raw = Buffer.from(s, 'base64url');
  writeFileSync(join(dir, 'ossl.sig'), alg === 'ES256' ? joseToDer(raw) : raw);
  try {
    execFileSync('openssl', ['dgst', '-sha256', '-verify', 'ossl.pub.pem', '-signature', 'ossl.sig', 'ossl.data'], {
      cwd: dir,
      stdio: 'pipe',
    });
    return true;
  } catch {
    return false;
  } finally {
    for (const f of ['ossl.pub.pem', 'ossl.data', 'ossl.sig']) rmSync(join(dir, f), { force: true });
  }
}
