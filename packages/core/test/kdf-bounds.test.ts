import { execFileSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  derNull,
  elementAt,
  integer,
  oid,
  opensshRoundsOffset,
  pemBody,
  rejection,
  replaceAt,
  seq,
  toPem,
} from '@keymint/test-kit';
import { ErrorCode, type KeymintError } from '../src/errors.js';
import { MAX_BCRYPT_ROUNDS, MAX_SCRYPT_BLOCKS, MAX_SCRYPT_MEMORY, MAX_SCRYPT_WORK } from '../src/kdf-bounds.js';
import { MAX_PBES2_COUNT } from '../src/password.js';
import { importPem } from '../src/pem.js';

// Every encrypted file here is made by the real openssl or ssh-keygen; the hostile ones are those
// files with one integer field changed, because the tools refuse to write them or would take
// days to. A refusal must come before the password is asked for (so before any key is derived),
// with the right password and with a wrong one, and well within a second.

const PASSWORD = 'kdf bound 1';
const WRONG = 'not the password';
const TOO_LONG = /: refused, as it could be used to make decryption take very long$/;
/** Every PRF `openssl pkcs8 -v2prf` writes. */
const PRFS = ['MD5', 'SHA1', 'SHA224', 'SHA256', 'SHA384', 'SHA512', 'SHA512-224', 'SHA512-256'].map(
  (h) => `hmacWith${h}`,
);

let dir: string;
const run = (cmd: string, ...args: string[]): string =>
  execFileSync(cmd, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
const file = (name: string): string => readFileSync(join(dir, name), 'utf8');

/** `openssl pkcs8 -topk8` of the test key with these options and the test password. */
function pkcs8(name: string, ...options: string[]): void {
  run('openssl', 'pkcs8', '-topk8', '-in', 'ed25519.key', '-passout', `pass:${PASSWORD}`, ...options, '-out', name);
}

/** The encoding of the element at `path` (child indexes) of a file's DER. */
function part(name: string, ...path: number[]): Buffer {
  return elementAt(pemBody(file(name)), ...path);
}

/** An encrypted PKCS#8 file with the element at `path` (child indexes) replaced. */
function patchPkcs8(name: string, path: number[], replacement: Uint8Array): string {
  return toPem('ENCRYPTED PRIVATE KEY', replaceAt(pemBody(file(name)), path, replacement));
}

// Paths of the integer fields in EncryptedPrivateKeyInfo { algorithm { oid, params }, data }.
const PBKDF2_PARAMS = [0, 1, 0, 1];
const PBKDF2_ITERATIONS = [...PBKDF2_PARAMS, 1];
const SCRYPT = { n: [0, 1, 0, 1, 1], r: [0, 1, 0, 1, 2], p: [0, 1, 0, 1, 3] };
const PBE_ITERATIONS = [0, 1, 1];

async function expectReads(text: string): Promise<void> {
  const password = vi.fn(async () => PASSWORD);
  const result = await importPem(text, { source: 'key.pem', password });
  expect(password).toHaveBeenCalledTimes(1);
  expect(result.privateJwk).toEqual(createPrivateKey(file('ed25519.key')).export({ format: 'jwk' }));
}

/**
 * The input is refused with `code` and one line matching `patterns`, with the right password and
 * with a wrong one, without the password callback ever being called, in well under a second.
 */
async function expectRefusedUnasked(text: string, code: ErrorCode, ...patterns: RegExp[]): Promise<KeymintError> {
  let last: KeymintError | undefined;
  for (const answer of [PASSWORD, WRONG]) {
    const password = vi.fn(async () => answer);
    const started = performance.now();
    last = await rejection<KeymintError>(importPem(text, { source: 'key.pem', password }), code);
    const elapsed = performance.now() - started;
    expect(last.message).not.toMatch(/[\r\n]/);
    expect(last.message).not.toContain(answer);
    for (const pattern of patterns) expect(last.message).toMatch(pattern);
    expect(password).not.toHaveBeenCalled();
    expect(elapsed).toBeLessThan(1000);
  }
  return last as KeymintError;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'keymint-kdf-'));
  run('openssl', 'genpkey', '-algorithm', 'ed25519', '-out', 'ed25519.key');
  pkcs8('pbkdf2-max.pem', '-v2', 'aes-256-cbc', '-iter', String(MAX_PBES2_COUNT));
  pkcs8('pbkdf2.pem', '-v2', 'aes-256-cbc');
  for (const prf of PRFS) {
    pkcs8(`prf-${prf}.pem`, '-v2', 'aes-256-cbc', '-v2prf', prf);
  }
  pkcs8('scrypt.pem', '-scrypt');
  pkcs8('scrypt-p8.pem', '-scrypt', '-scrypt_p', '8');
  pkcs8('scrypt-r15.pem', '-scrypt', '-scrypt_N', '16384', '-scrypt_r', '15');
  pkcs8('scrypt-blocks.pem', '-scrypt', '-scrypt_N', '32', '-scrypt_r', '1', '-scrypt_p', String(MAX_SCRYPT_BLOCKS));
  pkcs8('pkcs12-3des-max.pem', '-v1', 'PBE-SHA1-3DES', '-iter', String(MAX_PBES2_COUNT));
  const legacy = ['-provider', 'legacy', '-provider', 'default'];
  pkcs8('pkcs12-rc2.pem', '-v1', 'PBE-SHA1-RC2-40', ...legacy);
  pkcs8('pbes1-md5-des.pem', '-v1', 'PBE-MD5-DES', ...legacy);
  const sshKey = (name: string, ...options: string[]) =>
    run('ssh-keygen', '-q', '-t', 'ed25519', '-N', PASSWORD, '-C', 'kdf@test', ...options, '-f', name);
  sshKey('ssh-max', '-a', String(MAX_BCRYPT_ROUNDS));
  sshKey('ssh-default');
  sshKey('ssh-chacha', '-Z', 'chacha20-poly1305@openssh.com');
  sshKey('ssh-gcm', '-Z', 'aes256-gcm@openssh.com');
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('encrypted PKCS#8, PBES2 with PBKDF2', () => {
  it(`reads \`openssl pkcs8 -v2 aes-256-cbc -iter ${MAX_PBES2_COUNT}\`, refuses one iteration more unasked`, async () => {
    expect(pemBody(file('pbkdf2-max.pem')).includes(integer(BigInt(MAX_PBES2_COUNT)))).toBe(true);
    await expectReads(file('pbkdf2-max.pem'));
    const text = patchPkcs8('pbkdf2-max.pem', PBKDF2_ITERATIONS, integer(BigInt(MAX_PBES2_COUNT) + 1n));
    await expectRefusedUnasked(
      text,
      ErrorCode.INPUT_INVALID,
      /^key\.pem: the PBKDF2 iteration count 1000001 is above 1000000/,
      TOO_LONG,
    );
  });

  it.each([
    ['2^31', 2n ** 31n, /count 2147483648 is above/],
    ['2^32 - 1', 2n ** 32n - 1n, /count 4294967295 is above/],
    ['2^64 + 1 (a double would round it)', 2n ** 64n + 1n, /count \(a 65-bit number\) is above/],
    ['2^1000', 2n ** 1000n, /count \(a 1001-bit number\) is above/],
  ])('refuses an iteration count of %s before asking', async (_name, count, shown) => {
    await expectRefusedUnasked(
      patchPkcs8('pbkdf2.pem', PBKDF2_ITERATIONS, integer(count)),
      ErrorCode.INPUT_INVALID,
      shown,
      TOO_LONG,
    );
  });

  it.each([
    ['0', 0n, '0'],
    ['-1', -1n, '-1'],
    ['-2^1000', -(2n ** 1000n), '-\\(a 1001-bit number\\)'],
  ])('refuses an iteration count of %s as not positive, before asking', async (_name, count, shown) => {
    const text = patchPkcs8('pbkdf2.pem', PBKDF2_ITERATIONS, integer(count));
    await expectRefusedUnasked(
      text,
      ErrorCode.INPUT_INVALID,
      new RegExp(`the PBKDF2 iteration count ${shown} is not a positive whole number`),
    );
  });

  it('refuses a count that is not minimally encoded as corrupt, before asking', async () => {
    const text = patchPkcs8('pbkdf2.pem', PBKDF2_ITERATIONS, Buffer.from('0203000800', 'hex'));
    await expectRefusedUnasked(
      text,
      ErrorCode.INPUT_INVALID,
      /ENCRYPTED PRIVATE KEY block is corrupt: .*not minimally encoded/,
    );
  });

  it('reads every HMAC PRF `openssl pkcs8 -v2prf` writes, and refuses another PRF by name before asking', async () => {
    for (const prf of PRFS) {
      await expectReads(file(`prf-${prf}.pem`));
    }
    // HMAC-SHA3-256 and HMAC-SM3: OpenSSL 3.0 names them but refuses them as "unsupported prf".
    for (const prf of ['2.16.840.1.101.3.4.2.14', '1.2.156.10197.1.401.2']) {
      const text = patchPkcs8('pbkdf2.pem', [...PBKDF2_PARAMS, 2], seq(oid(prf), derNull()));
      await expectRefusedUnasked(
        text,
        ErrorCode.ALG_NOT_SUPPORTED,
        new RegExp(`pseudo-random function ${prf.replaceAll('.', '\\.')}`),
        /HMAC-SHA256/,
        /openssl pkcs8 -topk8 -v2 aes-256-cbc/,
      );
    }
  });

  it('reads PBKDF2 parameters without a prf (HMAC-SHA1 by default) or with a keyLength, and bounds both', async () => {
    // openssl leaves out the prf when it is the default, HMAC-SHA1.
    expect(() => part('prf-hmacWithSHA1.pem', ...PBKDF2_PARAMS, 2)).toThrow(/no child 2/);
    const [salt, count] = [0, 1].map((i) => part('prf-hmacWithSHA1.pem', ...PBKDF2_PARAMS, i)) as [Buffer, Buffer];
    const sha1 = (...params: Buffer[]) => patchPkcs8('prf-hmacWithSHA1.pem', PBKDF2_PARAMS, seq(...params));
    await expectReads(file('prf-hmacWithSHA1.pem'));
    await expectReads(sha1(salt, count, integer(32n))); // OpenSSL wants it equal to the AES-256 key size
    const [salt2, count2, prf] = [0, 1, 2].map((i) => part('pbkdf2.pem', ...PBKDF2_PARAMS, i)) as [
      Buffer,
      Buffer,
      Buffer,
    ];
    const sha256 = (...params: Buffer[]) => patchPkcs8('pbkdf2.pem', PBKDF2_PARAMS, seq(...params));
    await expectReads(sha256(salt2, count2, integer(32n), prf));
    await expectRefusedUnasked(
      sha1(salt, integer(2n ** 31n)),
      ErrorCode.INPUT_INVALID,
      /PBKDF2 iteration count 2147483648 is above/,
    );
    await expectRefusedUnasked(
      sha256(salt2, count2, integer(65n), prf),
      ErrorCode.INPUT_INVALID,
      /the PBKDF2 key length 65 is above 64/,
      TOO_LONG,
    );
    await expectRefusedUnasked(
      sha1(salt, count, integer(2n ** 40n)),
      ErrorCode.INPUT_INVALID,
      /the PBKDF2 key length 1099511627776 is above 64/,
    );
    await expectRefusedUnasked(
      sha1(salt, count, integer(0n)),
      ErrorCode.INPUT_INVALID,
      /the PBKDF2 key length 0 is not a positive/,
    );
  });

  it('refuses a salt from "otherSource" by name before asking', async () => {
    const text = patchPkcs8('pbkdf2.pem', [...PBKDF2_PARAMS, 0], seq(oid('1.2.3.4')));
    await expectRefusedUnasked(
      text,
      ErrorCode.ALG_NOT_SUPPORTED,
      /otherSource/,
      /openssl pkcs8 -topk8 -v2 aes-256-cbc/,
    );
  });
});

describe('encrypted PKCS#8, PBES2 with scrypt (RFC 7914 §7)', () => {
  it('reads `openssl pkcs8 -scrypt` (N=16384 r=8 p=1) and -scrypt_p 8 (N*r*p = 2^20), refuses p=9 unasked', async () => {
    await expectReads(file('scrypt.pem'));
    await expectReads(file('scrypt-p8.pem'));
    expect(16384 * 8 * 8).toBe(MAX_SCRYPT_WORK);
    await expectRefusedUnasked(
      patchPkcs8('scrypt-p8.pem', SCRYPT.p, integer(9n)),
      ErrorCode.INPUT_INVALID,
      /^key\.pem: the scrypt work N\*r\*p 1179648 \(N=16384, r=8, p=9\) is above 1048576/,
      TOO_LONG,
    );
  });

  it('reads r=15 (30 MiB, under the 32 MiB OpenSSL allows), and refuses r=16 and N=32768 before asking', async () => {
    await expectReads(file('scrypt-r15.pem'));
    // OpenSSL itself refuses these, but only once it has the password, and as if it were wrong.
    for (const [field, value, shown] of [
      [SCRYPT.r, 16n, 'N=16384, r=16, p=1'],
      [SCRYPT.n, 32768n, 'N=32768, r=8, p=1'],
    ] as const) {
      const text = patchPkcs8(field === SCRYPT.r ? 'scrypt-r15.pem' : 'scrypt.pem', field, integer(value));
      const memory = new RegExp(
        `the scrypt memory 128\\*r\\*\\(N\\+2\\+p\\) of \\d+ bytes \\(${shown}\\) is above ${MAX_SCRYPT_MEMORY} bytes`,
      );
      await expectRefusedUnasked(text, ErrorCode.INPUT_INVALID, memory, TOO_LONG);
    }
  });

  it(`reads N=32 r=1 p=${MAX_SCRYPT_BLOCKS} (r*p at its bound), refuses one p more or a tiny N, huge p unasked`, async () => {
    await expectReads(file('scrypt-blocks.pem'));
    const text = patchPkcs8('scrypt-blocks.pem', SCRYPT.p, integer(BigInt(MAX_SCRYPT_BLOCKS) + 1n));
    await expectRefusedUnasked(
      text,
      ErrorCode.INPUT_INVALID,
      /^key\.pem: the scrypt r\*p 16385 \(N=32, r=1, p=16385\) is above 16384/,
      TOO_LONG,
    );
    // Within the work and memory bounds (128*1*(2+2+262140) is exactly 32 MiB), but 2^18 PBKDF2 blocks.
    const tiny = patchPkcs8Text(patchPkcs8('scrypt-blocks.pem', SCRYPT.n, integer(2n)), SCRYPT.p, integer(262_140n));
    await expectRefusedUnasked(
      tiny,
      ErrorCode.INPUT_INVALID,
      /the scrypt r\*p 262140 \(N=2, r=1, p=262140\) is above 16384/,
    );
  });

  it.each([
    ['p = 2^31', SCRYPT.p, 2n ** 31n, /scrypt work N\*r\*p \(N=16384, r=8, p=2147483648\) is above 1048576/],
    ['p = 2^32 - 1', SCRYPT.p, 2n ** 32n - 1n, /scrypt work N\*r\*p \(N=16384, r=8, p=4294967295\) is above/],
    ['r = 2^32 - 1', SCRYPT.r, 2n ** 32n - 1n, /scrypt work N\*r\*p \(N=16384, r=4294967295, p=1\) is above/],
    ['N = 2^40', SCRYPT.n, 2n ** 40n, /scrypt work N\*r\*p \(N=1099511627776, r=8, p=1\) is above/],
    ['N = 2^1000', SCRYPT.n, 2n ** 1000n, /scrypt work N\*r\*p \(N=\(a 1001-bit number\), r=8, p=1\) is above/],
    ['p = 32 (N*r*p = 2^22)', SCRYPT.p, 32n, /scrypt work N\*r\*p 4194304 \(N=16384, r=8, p=32\) is above/],
  ])('refuses %s before asking', async (_name, field, value, message) => {
    await expectRefusedUnasked(
      patchPkcs8('scrypt.pem', field, integer(value)),
      ErrorCode.INPUT_INVALID,
      message,
      TOO_LONG,
    );
  });

  it.each([
    ['N = 3', SCRYPT.n, 3n, /costParameter N 3 is not a power of two above 1/],
    ['N = 1', SCRYPT.n, 1n, /costParameter N 1 is not a power of two above 1/],
    ['N = 0', SCRYPT.n, 0n, /costParameter N 0 is not a power of two above 1/],
    ['N = -16384', SCRYPT.n, -16384n, /costParameter N -16384 is not a power of two above 1/],
    ['r = 0', SCRYPT.r, 0n, /blockSize r 0 is not a positive whole number/],
    ['p = -1', SCRYPT.p, -1n, /parallelizationParameter p -1 is not a positive whole number/],
  ])('refuses %s as invalid before asking', async (_name, field, value, message) => {
    await expectRefusedUnasked(patchPkcs8('scrypt.pem', field, integer(value)), ErrorCode.INPUT_INVALID, message);
  });

  it('refuses N = 65536 with r = 1 (RFC 7914 §2: N < 2^(16r)) before asking', async () => {
    const text = patchPkcs8('scrypt.pem', SCRYPT.n, integer(65536n));
    await expectRefusedUnasked(
      patchPkcs8Text(text, SCRYPT.r, integer(1n)),
      ErrorCode.INPUT_INVALID,
      /N 65536 is not below 2\^\(16\*r\) for r=1/,
    );
  });
});

/** patchPkcs8 on a PEM text rather than a file. */
function patchPkcs8Text(text: string, path: number[], replacement: Uint8Array): string {
  return toPem('ENCRYPTED PRIVATE KEY', replaceAt(pemBody(text), path, replacement));
}

describe('encrypted PKCS#8, PBES1 and PKCS#12 PBE', () => {
  it(`reads \`openssl pkcs8 -v1 PBE-SHA1-3DES -iter ${MAX_PBES2_COUNT}\`, refuses one more unasked`, async () => {
    expect(pemBody(file('pkcs12-3des-max.pem')).includes(oid('1.2.840.113549.1.12.1.3'))).toBe(true);
    await expectReads(file('pkcs12-3des-max.pem'));
    const text = patchPkcs8('pkcs12-3des-max.pem', PBE_ITERATIONS, integer(BigInt(MAX_PBES2_COUNT) + 1n));
    await expectRefusedUnasked(
      text,
      ErrorCode.INPUT_INVALID,
      /the PKCS#12 PBE iteration count 1000001 is above 1000000/,
      TOO_LONG,
    );
  });

  it('bounds PKCS#12 RC2, which Node derives a key for before it finds it cannot decrypt RC2', async () => {
    const password = async () => PASSWORD;
    const rc2 = /PKCS#12 PBE pbewithSHAAnd40BitRC2-CBC \(1\.2\.840\.113549\.1\.12\.1\.6\)/;
    await rejection(
      importPem(file('pkcs12-rc2.pem'), { source: 'key.pem', password }),
      ErrorCode.ALG_NOT_SUPPORTED,
      rc2,
    );
    for (const count of [BigInt(MAX_PBES2_COUNT) + 1n, 2n ** 31n]) {
      await expectRefusedUnasked(
        patchPkcs8('pkcs12-rc2.pem', PBE_ITERATIONS, integer(count)),
        ErrorCode.INPUT_INVALID,
        /PKCS#12 PBE iteration count \d+ is above 1000000/,
      );
    }
  });

  it('bounds PBES1 (`openssl pkcs8 -v1 PBE-MD5-DES`) alike', async () => {
    expect(pemBody(file('pbes1-md5-des.pem')).includes(oid('1.2.840.113549.1.5.3'))).toBe(true);
    const text = patchPkcs8('pbes1-md5-des.pem', PBE_ITERATIONS, integer(2n ** 32n - 1n));
    await expectRefusedUnasked(
      text,
      ErrorCode.INPUT_INVALID,
      /the PBES1 iteration count 4294967295 is above 1000000/,
      TOO_LONG,
    );
    await expectRefusedUnasked(
      patchPkcs8('pbes1-md5-des.pem', PBE_ITERATIONS, integer(0n)),
      ErrorCode.INPUT_INVALID,
      /PBES1 iteration count 0 is not a positive/,
    );
  });

  it('refuses an encryption scheme or a PBES2 KDF it cannot bound by name, before asking', async () => {
    // id-PBKDF2 as the outer algorithm is in OpenSSL's table; 1.3.6.1.4.1.19454.1.1 is no scheme at all.
    for (const scheme of ['1.2.840.113549.1.5.12', '1.3.6.1.4.1.19454.1.1']) {
      const text = patchPkcs8('pbkdf2.pem', [0, 0], oid(scheme));
      await expectRefusedUnasked(
        text,
        ErrorCode.ALG_NOT_SUPPORTED,
        new RegExp(`encrypted with algorithm ${scheme.replaceAll('.', '\\.')}`),
        /openssl pkcs8/,
      );
    }
    const text = patchPkcs8('pbkdf2.pem', [0, 1, 0, 0], oid('1.2.3.4.5'));
    await expectRefusedUnasked(text, ErrorCode.ALG_NOT_SUPPORTED, /PBES2 and key derivation function 1\.2\.3\.4\.5/);
  });
});

/** The blob of an OpenSSH key and the offset of its bcrypt rounds (PROTOCOL.key). */
function sshBlob(text: string): { blob: Buffer; rounds: number } {
  const blob = pemBody(text);
  return { blob, rounds: opensshRoundsOffset(blob) };
}

function sshWithRounds(name: string, rounds: number): string {
  const { blob, rounds: offset } = sshBlob(file(name));
  expect(blob.readUInt32BE(offset)).toBe(name === 'ssh-max' ? MAX_BCRYPT_ROUNDS : 16);
  blob.writeUInt32BE(rounds, offset);
  return toPem('OPENSSH PRIVATE KEY', blob, 70);
}

describe('OpenSSH keys: bcrypt_pbkdf rounds', () => {
  it(`reads \`ssh-keygen -a ${MAX_BCRYPT_ROUNDS}\`, and refuses it at one round more before asking`, async () => {
    const password = vi.fn(async () => PASSWORD);
    const result = await importPem(file('ssh-max'), { password });
    expect(password).toHaveBeenCalledTimes(1);
    expect(result.format).toBe('encrypted OpenSSH private key');
    const text = sshWithRounds('ssh-max', MAX_BCRYPT_ROUNDS + 1);
    await expectRefusedUnasked(
      text,
      ErrorCode.INPUT_INVALID,
      /^key\.pem: the OpenSSH bcrypt_pbkdf round count 257 is above 256/,
      TOO_LONG,
    );
  }, 60_000);

  it.each([2 ** 31, 2 ** 32 - 1])('refuses %i rounds before asking', async (rounds) => {
    await expectRefusedUnasked(
      sshWithRounds('ssh-default', rounds),
      ErrorCode.INPUT_INVALID,
      new RegExp(`round count ${rounds} is above 256`),
      TOO_LONG,
    );
  });

  it('refuses 0 rounds as invalid before asking', async () => {
    await expectRefusedUnasked(
      sshWithRounds('ssh-default', 0),
      ErrorCode.INPUT_INVALID,
      /bcrypt_pbkdf round count 0 is not a positive whole number/,
    );
  });

  it('refuses a key derivation function other than bcrypt by name before asking', async () => {
    const blob = pemBody(file('ssh-default')).toString('latin1').replace('\0\0\0\x06bcrypt', '\0\0\0\x06scrypt');
    const text = toPem('OPENSSH PRIVATE KEY', Buffer.from(blob, 'latin1'), 70);
    expect(text).not.toBe(file('ssh-default'));
    await expectRefusedUnasked(
      text,
      ErrorCode.ALG_NOT_SUPPORTED,
      /key derivation function "scrypt"/,
      /bcrypt/,
      /ssh-keygen -p/,
    );
  });

  it('refuses the AEAD ciphers sshpk cannot decrypt by name before asking', async () => {
    await expectRefusedUnasked(
      file('ssh-chacha'),
      ErrorCode.ALG_NOT_SUPPORTED,
      /cipher "chacha20-poly1305@openssh\.com"/,
      /aes256-ctr/,
    );
    await expectRefusedUnasked(file('ssh-gcm'), ErrorCode.ALG_NOT_SUPPORTED, /cipher "aes256-gcm@openssh\.com"/);
  });

  it.each([
    [
      'cut inside the kdfoptions',
      (blob: Buffer, rounds: number) => blob.subarray(0, rounds + 2),
      /claims a kdfoptions of 24 bytes/,
    ],
    [
      'cut inside the ciphername',
      (blob: Buffer) => blob.subarray(0, 20),
      /claims a ciphername of 10 bytes, only 1 remain/,
    ],
    [
      'a kdfoptions length past the end',
      (blob: Buffer, rounds: number) => {
        const copy = Buffer.from(blob);
        copy.writeUInt32BE(0xffffffff, rounds - 4 - 16 - 4);
        return copy;
      },
      /claims a kdfoptions of 4294967295 bytes/,
    ],
    [
      'an empty salt',
      (blob: Buffer, rounds: number) => {
        const copy = Buffer.from(blob);
        copy.writeUInt32BE(4 + 0 + 4, rounds - 4 - 16 - 4);
        copy.writeUInt32BE(0, rounds - 4 - 16);
        return Buffer.concat([copy.subarray(0, rounds - 16), copy.subarray(rounds)]);
      },
      /bcrypt salt is empty/,
    ],
    [
      'another magic',
      (blob: Buffer) => Buffer.concat([Buffer.from('openssh-key-v2\0'), blob.subarray(15)]),
      /does not start with "openssh-key-v1"/,
    ],
  ])('refuses a blob %s as corrupt, naming the field, before asking', async (_name, damage, message) => {
    const { blob, rounds } = sshBlob(file('ssh-default'));
    const text = toPem('OPENSSH PRIVATE KEY', damage(blob, rounds), 70);
    await expectRefusedUnasked(text, ErrorCode.INPUT_INVALID, /OPENSSH PRIVATE KEY block is corrupt/, message);
  });
});
