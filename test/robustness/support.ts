import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import {
  BIN,
  decryptWithJose,
  expectKeyPair,
  modeOf,
  privateMembersIn,
  rfc7638,
  startProgram,
  type Jwk,
  type StartedProgram,
} from '../helpers.js';

/** What the robustness tests share: a keymint run they can kill, and checks of a key pair on disk. */

export interface StartedRun extends StartedProgram {
  /** performance.now() when the process was spawned. */
  startedAt: number;
}

/**
 * Starts the built keymint as `keymint` (helpers.ts) does, in its own session with no terminal,
 * but hands back the child so that a test can kill it.
 */
export function startKeymint(
  args: readonly string[],
  options: { cwd: string; env?: Record<string, string>; nodeArgs?: readonly string[] },
): StartedRun {
  const started = startProgram(process.execPath, [...(options.nodeArgs ?? []), BIN, ...args], options);
  return { ...started, startedAt: performance.now() };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until performance.now() reaches `at`, spinning for the last two milliseconds (timers are coarse). */
export async function waitUntil(at: number): Promise<void> {
  const coarse = at - performance.now() - 2;
  if (coarse > 0) await sleep(coarse);
  while (performance.now() < at) {
    // spin
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

export interface KeyPairOnDisk {
  publicJwk: Jwk;
  privateJwk: Jwk;
  publicText: string;
  privateText: string;
}

/**
 * Checks a complete key pair written by `keymint create` with a password: the public JWK (0644,
 * no private member, kid = RFC 7638 thumbprint), the private file a flattened JWE (0600) with
 * keymint's header that panva/jose decrypts with `password`, and the two are one key pair.
 * Throws (an assertion error) naming the file on anything else: a partial or truncated file
 * fails to parse here.
 */
export async function expectValidPair(
  dir: string,
  pub: string,
  priv: string,
  password: string,
  expected: { kty: string; p2c: number },
): Promise<KeyPairOnDisk> {
  const publicText = readFileSync(join(dir, pub), 'utf8');
  const privateText = readFileSync(join(dir, priv), 'utf8');
  let publicJwk: Jwk;
  try {
    publicJwk = JSON.parse(publicText) as Jwk;
  } catch {
    throw new Error(
      `${pub} is not complete JSON (${publicText.length} characters): ${JSON.stringify(publicText.slice(-40))}`,
    );
  }
  expect(publicJwk.kty, `${pub} kty`).toBe(expected.kty);
  expect(privateMembersIn(publicJwk), `${pub} has no private member`).toEqual([]);
  expect(publicJwk.kid, `${pub} kid`).toBe(rfc7638(publicJwk));
  expect(modeOf(join(dir, pub)), `${pub} mode`).toBe(0o644);

  let jwe: Record<string, unknown>;
  try {
    jwe = JSON.parse(privateText) as Record<string, unknown>;
  } catch {
    throw new Error(
      `${priv} is not complete JSON (${privateText.length} characters): ${JSON.stringify(privateText.slice(-40))}`,
    );
  }
  expect(Object.keys(jwe), `${priv} is a flattened JWE`).toEqual([
    'protected',
    'encrypted_key',
    'iv',
    'ciphertext',
    'tag',
  ]);
  const header = JSON.parse(Buffer.from(jwe.protected as string, 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
  expect(header, `${priv} header`).toEqual({
    alg: 'PBES2-HS256+A128KW',
    enc: 'A256GCM',
    cty: 'jwk+json',
    p2c: expected.p2c,
    p2s: expect.any(String),
  });
  expect(modeOf(join(dir, priv)), `${priv} mode`).toBe(0o600);
  const privateJwk = await decryptWithJose(join(dir, priv), password);
  expectKeyPair(privateJwk, publicJwk);
  expect(privateJwk.kid, 'the private JWK has the same kid').toBe(publicJwk.kid);
  return { publicJwk, privateJwk, publicText, privateText };
}
