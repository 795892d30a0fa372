import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { integer, opensshRoundsOffset, pemBody, replaceAt, runTool, toPem } from '@keymint/test-kit';
import { FAST, expectFailure, keymint, readJson, tempDirWith, writeFile, type Jwk } from './helpers.js';

// Issue 9, class 3, through the built CLI: `create --from-pem` bounds the key derivation of every
// encrypted input before it asks for (or reads) the PEM password. Real files from openssl and
// ssh-keygen are adopted at the bounds; the same files with one integer field made hostile are
// refused with exit 9 (or 4 for what keymint cannot bound), with the right password file, a wrong
// one and none at all, and the directory is left as it was.

const PEM_PASSWORD = 'pem kdf secret';
const TOO_LONG = /: refused, as it could be used to make decryption take very long\n$/;

let pems: string;
const sh = (cwd: string, command: string): string => runTool('/bin/sh', ['-c', command], { cwd });

beforeAll(() => {
  pems = mkdtempSync(join(tmpdir(), 'keymint-e2e-kdf-'));
  sh(pems, 'openssl genpkey -algorithm ed25519 -out ed25519.key');
  const pkcs8 = (name: string, options: string) =>
    sh(pems, `openssl pkcs8 -topk8 -in ed25519.key -passout pass:'${PEM_PASSWORD}' ${options} -out ${name}`);
  pkcs8('pbkdf2-max.pem', '-v2 aes-256-cbc -iter 1000000');
  pkcs8('scrypt.pem', '-scrypt');
  pkcs8('pkcs12-3des-max.pem', '-v1 PBE-SHA1-3DES -iter 1000000');
  sh(pems, `ssh-keygen -q -t ed25519 -a 100 -N '${PEM_PASSWORD}' -C kdf -f id_a100`);
  sh(pems, `ssh-keygen -q -t ed25519 -Z chacha20-poly1305@openssh.com -N '${PEM_PASSWORD}' -C kdf -f id_chacha`);
});

afterAll(() => rmSync(pems, { recursive: true, force: true }));

/** A temp dir with pass.txt (the JWK password), right.txt and wrong.txt (PEM passwords) and the named inputs. */
function dirWith(...names: string[]): string {
  const dir = tempDirWith(pems, names);
  writeFile(dir, 'right.txt', `${PEM_PASSWORD}\n`);
  writeFile(dir, 'wrong.txt', 'not the pem password\n');
  return dir;
}

/** An encrypted PKCS#8 input with the INTEGER at `path` (child indexes) set to `value`. */
function patchedPkcs8(name: string, path: number[], value: bigint): string {
  return toPem(
    'ENCRYPTED PRIVATE KEY',
    replaceAt(pemBody(readFileSync(join(pems, name), 'utf8')), path, integer(value)),
  );
}

/** An OpenSSH key with its bcrypt_pbkdf rounds (PROTOCOL.key) set to `rounds`. */
function patchedRounds(name: string, rounds: number): string {
  const blob = pemBody(readFileSync(join(pems, name), 'utf8'));
  const offset = opensshRoundsOffset(blob);
  expect(blob.readUInt32BE(offset)).toBe(100);
  blob.writeUInt32BE(rounds, offset);
  return toPem('OPENSSH PRIVATE KEY', blob, 70);
}

/** The Ed25519 public key of an input as the tool that made it sees it: the last 32 bytes of its public form. */
function toolX(input: string): string {
  const raw = input.startsWith('id_')
    ? Buffer.from(sh(pems, `ssh-keygen -y -P '${PEM_PASSWORD}' -f ${input}`).split(' ')[1] ?? '', 'base64')
    : Buffer.from(sh(pems, 'openssl pkey -in ed25519.key -pubout -outform DER | base64 -w0'), 'base64');
  return raw.subarray(raw.length - 32).toString('base64url');
}

async function expectAdopted(input: string): Promise<void> {
  const dir = dirWith(input);
  const args = [
    'create',
    ...FAST,
    '--password-file',
    'pass.txt',
    '--from-pem',
    input,
    '--pem-password-file',
    'right.txt',
  ];
  const result = await keymint([...args, 'k.pub', 'k.json'], { cwd: dir });
  expect(result.code, result.stderr).toBe(0);
  expect(readJson<Jwk>(join(dir, 'k.pub'))).toMatchObject({ kty: 'OKP', crv: 'Ed25519', x: toolX(input) });
}

/** Refused with `code` and `patterns`, whatever the PEM password: right, wrong, or none (no terminal either). */
async function expectRefused(text: string, code: number, ...patterns: RegExp[]): Promise<void> {
  const dir = dirWith();
  writeFile(dir, 'hostile.pem', text);
  for (const pemPassword of [['--pem-password-file', 'right.txt'], ['--pem-password-file', 'wrong.txt'], []]) {
    const started = performance.now();
    const args = [
      'create',
      ...FAST,
      '--password-file',
      'pass.txt',
      '--from-pem',
      'hostile.pem',
      ...pemPassword,
      'k.pub',
      'k.json',
    ];
    await expectFailure(dir, args, code, [/hostile\.pem/, ...patterns]);
    // A whole CLI run, start-up included: a derivation at these counts would take minutes to years.
    expect(performance.now() - started).toBeLessThan(2000);
  }
}

// Paths of the integer fields in EncryptedPrivateKeyInfo { algorithm { oid, params }, data }.
const PBKDF2_ITERATIONS = [0, 1, 0, 1, 1];
const SCRYPT_P = [0, 1, 0, 1, 3];
const PBE_ITERATIONS = [0, 1, 1];

describe('--from-pem bounds every password-based key derivation before the password', () => {
  it('PBES2/PBKDF2: `openssl pkcs8 -iter 1000000` is adopted; 1000001 and 2^31 are refused, exit 9', async () => {
    await expectAdopted('pbkdf2-max.pem');
    await expectRefused(
      patchedPkcs8('pbkdf2-max.pem', PBKDF2_ITERATIONS, 1_000_001n),
      9,
      /the PBKDF2 iteration count 1000001 is above 1000000/,
      TOO_LONG,
    );
    await expectRefused(
      patchedPkcs8('pbkdf2-max.pem', PBKDF2_ITERATIONS, 2n ** 31n),
      9,
      /the PBKDF2 iteration count 2147483648 is above 1000000/,
      TOO_LONG,
    );
  });

  it('PBES2/scrypt: `openssl pkcs8 -scrypt` is adopted; p = 64 and p = 2^32 - 1 are refused, exit 9', async () => {
    await expectAdopted('scrypt.pem');
    await expectRefused(
      patchedPkcs8('scrypt.pem', SCRYPT_P, 64n),
      9,
      /the scrypt work N\*r\*p 8388608 \(N=16384, r=8, p=64\) is above 1048576/,
      TOO_LONG,
    );
    await expectRefused(
      patchedPkcs8('scrypt.pem', SCRYPT_P, 2n ** 32n - 1n),
      9,
      /the scrypt work N\*r\*p \(N=16384, r=8, p=4294967295\) is above/,
      TOO_LONG,
    );
  });

  it('PKCS#12 PBE: `openssl pkcs8 -v1 PBE-SHA1-3DES -iter 1000000` is adopted; 1000001 and 2^32 - 1 are refused, exit 9', async () => {
    await expectAdopted('pkcs12-3des-max.pem');
    await expectRefused(
      patchedPkcs8('pkcs12-3des-max.pem', PBE_ITERATIONS, 1_000_001n),
      9,
      /the PKCS#12 PBE iteration count 1000001 is above 1000000/,
      TOO_LONG,
    );
    await expectRefused(
      patchedPkcs8('pkcs12-3des-max.pem', PBE_ITERATIONS, 2n ** 32n - 1n),
      9,
      /the PKCS#12 PBE iteration count 4294967295 is above 1000000/,
      TOO_LONG,
    );
  });

  it('OpenSSH: `ssh-keygen -a 100` is adopted; 257 and 2^32 - 1 bcrypt rounds are refused, exit 9', async () => {
    await expectAdopted('id_a100');
    await expectRefused(
      patchedRounds('id_a100', 257),
      9,
      /the OpenSSH bcrypt_pbkdf round count 257 is above 256/,
      TOO_LONG,
    );
    await expectRefused(
      patchedRounds('id_a100', 2 ** 32 - 1),
      9,
      /the OpenSSH bcrypt_pbkdf round count 4294967295 is above 256/,
      TOO_LONG,
    );
  });

  it('what keymint cannot bound or decrypt is refused by name, exit 4: another OpenSSH KDF, `ssh-keygen -Z chacha20-poly1305`', async () => {
    const blob = pemBody(readFileSync(join(pems, 'id_a100'), 'utf8'));
    const patched = blob.toString('latin1').replace('\0\0\0\x06bcrypt', '\0\0\0\x06scrypt');
    const scrypt = Buffer.from(patched, 'latin1');
    await expectRefused(
      toPem('OPENSSH PRIVATE KEY', scrypt, 70),
      4,
      /key derivation function "scrypt"/,
      /ssh-keygen -p/,
    );
    await expectRefused(
      readFileSync(join(pems, 'id_chacha'), 'utf8'),
      4,
      /cipher "chacha20-poly1305@openssh\.com"/,
      /aes256-ctr/,
    );
  });
});
