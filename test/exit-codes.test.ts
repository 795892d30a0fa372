import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST, REPO, expectFailure, keymint, passwordFile, tempDir, writeFile, type RunResult } from './helpers.js';
import {
  SOFTHSM_MODULE,
  startKeyringSession,
  startSoftHsm,
  type KeyringSession,
  type SoftHsm,
  newKeyPair,
} from '@keymint/test-kit';

/**
 * The README's exit-code table, enforced: every row it documents is produced here by a real run of
 * the built CLI, with the code the row gives, one line on stderr, nothing written, and with
 * --json the error code the row names. Row 1 (an internal error) is a bug by definition: nothing
 * should produce it (apps/cli/test/output.test.ts checks the mapping of unexpected errors).
 */

interface Row {
  exit: number;
  codes: string[];
}

/** The rows of the README's "Exit codes" table. */
function readmeTable(): Row[] {
  const text = readFileSync(join(REPO, 'README.md'), 'utf8');
  const section = text.slice(text.indexOf('## Exit codes'));
  const rows: Row[] = [];
  for (const match of section.matchAll(/^\|\s*(\d+)\s*\|[^|]*\|([^|]*)\|\s*$/gm)) {
    rows.push({
      exit: Number(match[1]),
      codes: [...(match[2] as string).matchAll(/`(ERR_[A-Z_]+)`/g)].map((m) => m[1] as string),
    });
  }
  return rows;
}

/**
 * A PKCS#11 module that forwards to SoftHSM2 but answers some calls as a failing token would:
 * `KEYMINT_TEST_FAULT=C_GenerateKeyPair:0x31` makes key generation say the token is full. Real
 * tokens report CKR_DEVICE_MEMORY, CKR_TOKEN_WRITE_PROTECTED and CKR_PIN_LOCKED; SoftHSM2 never
 * does, so this is the only way to run those paths here. The function list is SoftHSM's own, with
 * the named entries replaced (PKCS#11 2.40 §5.3 fixes their order).
 */
const FAULT_SOURCE = `
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
typedef unsigned long rv;
struct list { unsigned char version[2]; void *fn[68]; };
static struct list copy;
static rv fault;
static rv fail(void) { return fault; }
static const char *names[] = { "C_Login", "C_GenerateKey", "C_GenerateKeyPair" };
static const int slots[] = { 18, 58, 59 };
rv C_GetFunctionList(void **out) {
  void *softhsm = dlopen(TARGET, RTLD_NOW | RTLD_LOCAL);
  if (softhsm == NULL) return 5;
  rv (*forward)(void **) = (rv (*)(void **))dlsym(softhsm, "C_GetFunctionList");
  struct list *real;
  rv status = forward((void **)&real);
  if (status != 0) return status;
  memcpy(&copy, real, sizeof copy);
  const char *spec = getenv("KEYMINT_TEST_FAULT");
  if (spec != NULL) {
    const char *colon = strchr(spec, ':');
    fault = colon == NULL ? 5 : strtoul(colon + 1, NULL, 0);
    for (int i = 0; i < 3; i++) if (colon != NULL && strncmp(spec, names[i], (size_t)(colon - spec)) == 0) copy.fn[slots[i]] = (void *)fail;
  }
  *out = &copy;
  return 0;
}
`;

const TOKEN = 'e2e-exit-codes';
let softhsm: SoftHsm;
let keyring: KeyringSession;
let faulty = '';
const build = mkdtempSync(join(tmpdir(), 'keymint-e2e-fault-'));

beforeAll(async () => {
  softhsm = startSoftHsm([TOKEN], { setEnv: true });
  keyring = await startKeyringSession();
  writeFileSync(join(build, 'fault.c'), FAULT_SOURCE);
  faulty = join(build, 'libfault.so');
  const cc = spawnSync(
    'cc',
    ['-shared', '-fPIC', '-o', faulty, `-DTARGET=${JSON.stringify(SOFTHSM_MODULE)}`, join(build, 'fault.c'), '-ldl'],
    { encoding: 'utf8' },
  );
  if (cc.status !== 0) throw new Error(`cc failed: ${cc.stderr}`);
});

afterAll(async () => {
  await keyring?.stop();
  softhsm?.remove();
  rmSync(build, { recursive: true, force: true });
});

const EC_PRIVATE: Record<string, string> = {
  ...(newKeyPair('ec', { namedCurve: 'prime256v1' }).privateJwk as Record<string, string>),
  kid: 'k1',
};
const EC_PUBLIC = Object.fromEntries(Object.entries(EC_PRIVATE).filter(([name]) => name !== 'd'));

interface Case {
  exit: number;
  name: string;
  /** Makes the files the run needs in `dir`; returns the arguments, and options for the run. */
  run: (
    dir: string,
  ) =>
    | Promise<{ args: string[]; env?: Record<string, string>; pattern: RegExp }>
    | { args: string[]; env?: Record<string, string>; pattern: RegExp };
}

const faultUri = () => `pkcs11:token=${TOKEN}?module-path=${faulty}&pin-source=file:${softhsm.pinFile}`;

const CASES: Case[] = [
  {
    exit: 2,
    name: 'an unknown flag',
    run: () => ({
      args: ['create', '--bogus', 'k.pub.json', 'k.json'],
      pattern: /unknown option '--bogus'; see keymint create --help/,
    }),
  },
  {
    exit: 2,
    name: 'a password needed and no terminal',
    run: () => ({
      args: ['create', ...FAST, 'k.pub.json', 'k.json'],
      pattern: /a password is needed to encrypt the private JWK and there is no terminal/,
    }),
  },
  {
    exit: 3,
    name: 'an invalid parameter',
    run: () => ({ args: ['create', '--kty', 'ECC', 'k.pub.json', 'k.json'], pattern: /--kty "ECC" is not a key type/ }),
  },
  {
    exit: 4,
    name: 'an alg the key cannot sign with',
    run: (dir) => {
      writeFile(dir, 'k.json', JSON.stringify(EC_PRIVATE));
      writeFile(dir, 'p.txt', 'payload');
      return {
        args: ['sign', '--key', 'k.json', '--alg', 'ES384', 'p.txt'],
        pattern: /ES384 does not fit a EC P-256 key: use ES256/,
      };
    },
  },
  {
    exit: 5,
    name: 'a key kept by a backend that is not installed',
    run: (dir) => {
      writeFile(
        dir,
        'ref.json',
        JSON.stringify({
          type: 'keymint-key-reference',
          version: 1,
          backend: 'cloudkms',
          location: { name: 'k' },
          jwk: EC_PUBLIC,
        }),
      );
      return {
        args: ['sign', '--key', 'ref.json', 'ref.json'],
        pattern: /kept by the "cloudkms" backend, which this keymint does not have/,
      };
    },
  },
  {
    exit: 6,
    name: 'a wrong password',
    run: async (dir) => {
      const pass = passwordFile(dir);
      const made = await keymint(['create', ...FAST, '--password-file', pass, 'k.pub.json', 'k.json'], { cwd: dir });
      expect(made.code).toBe(0);
      writeFile(dir, 'wrong.txt', 'not the password\n');
      return { args: ['public', '--password-file', 'wrong.txt', 'k.json'], pattern: /wrong password/ };
    },
  },
  {
    exit: 7,
    name: 'an output that exists',
    run: (dir) => {
      writeFile(dir, 'k.pub.json', '{}');
      return {
        args: ['create', '--no-password', '--insecure', 'k.pub.json', 'k.json'],
        pattern: /k\.pub\.json already exists/,
      };
    },
  },
  {
    exit: 8,
    name: 'a missing file',
    run: () => ({ args: ['public', 'missing.json'], pattern: /missing\.json: no such file or directory/ }),
  },
  {
    exit: 9,
    name: 'a malformed key file',
    run: (dir) => {
      writeFile(dir, 'bad.json', '{"kty": ');
      return { args: ['public', 'bad.json'], pattern: /bad\.json is not valid JSON/ };
    },
  },
  {
    exit: 10,
    name: 'no such token',
    run: () => ({
      args: [
        'keys',
        'list',
        '--backend',
        'pkcs11',
        '--pkcs11-uri',
        `pkcs11:token=no-such-token?module-path=${SOFTHSM_MODULE}`,
      ],
      pattern: /no-such-token/,
    }),
  },
  {
    exit: 11,
    name: 'a wrong PIN',
    run: (dir) => {
      writeFile(dir, 'wrong.pin', '000000\n');
      return {
        args: [
          'keys',
          'list',
          '--backend',
          'pkcs11',
          '--pkcs11-uri',
          `pkcs11:token=${TOKEN}?module-path=${SOFTHSM_MODULE}&pin-source=file:wrong.pin`,
        ],
        pattern: /refused the PIN/,
      };
    },
  },
  {
    exit: 12,
    name: 'a locked PIN',
    run: () => ({
      args: ['keys', 'list', '--backend', 'pkcs11', '--pkcs11-uri', faultUri()],
      env: { KEYMINT_TEST_FAULT: 'C_Login:0xa4' },
      pattern: /locked/i,
    }),
  },
  {
    exit: 13,
    name: 'a full token',
    run: () => ({
      args: ['create', '--backend', 'pkcs11', '--pkcs11-uri', faultUri(), 'k.pub.json', 'k.json'],
      env: { KEYMINT_TEST_FAULT: 'C_GenerateKeyPair:0x31' },
      pattern: /creating an EC P-256 ES256 key/,
    }),
  },
  {
    exit: 14,
    name: 'a write-protected token',
    run: () => ({
      args: ['create', '--backend', 'pkcs11', '--pkcs11-uri', faultUri(), 'k.pub.json', 'k.json'],
      env: { KEYMINT_TEST_FAULT: 'C_GenerateKeyPair:0xe2' },
      pattern: /creating an EC P-256 ES256 key/,
    }),
  },
  {
    exit: 15,
    name: 'a kid already in a JWK Set',
    run: (dir) => {
      writeFile(dir, 'jwks.json', JSON.stringify({ keys: [EC_PUBLIC] }));
      writeFile(dir, 'k.pub.json', JSON.stringify(EC_PUBLIC));
      return { args: ['keyset', 'add', 'jwks.json', 'k.pub.json'], pattern: /already has a key with kid "k1"/ };
    },
  },
  {
    exit: 16,
    name: 'no key with that kid',
    run: (dir) => {
      writeFile(dir, 'jwks.json', JSON.stringify({ keys: [EC_PUBLIC] }));
      return { args: ['keyset', 'remove', 'jwks.json', '--kid', 'k2'], pattern: /has no key with kid "k2"/ };
    },
  },
  {
    exit: 17,
    name: 'a locked keychain',
    run: async (dir) => {
      const made = await keymint(['create', '--backend', 'keychain', 'k.pub.json', 'k.json'], {
        cwd: dir,
        env: { ...keyring.env },
      });
      expect(made.code, made.stderr).toBe(0);
      keyring.lock();
      writeFile(dir, 'p.txt', 'payload');
      return { args: ['sign', '--key', 'k.json', 'p.txt'], env: { ...keyring.env }, pattern: /the keychain is locked/ };
    },
  },
  {
    exit: 18,
    name: 'a token not valid (also when the set has no key with its kid)',
    run: (dir) => {
      writeFile(dir, 'jwks.json', JSON.stringify({ keys: [EC_PUBLIC] }));
      const token = `${Buffer.from('{"alg":"ES256","kid":"other"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.AAAA`;
      return { args: ['verify', '--key', 'jwks.json', token], pattern: /has no key with kid "other"/ };
    },
  },
  {
    exit: 19,
    name: 'a PKCS#11 module nobody trusts, named by a reference',
    run: (dir) => {
      writeFile(
        dir,
        'ref.json',
        JSON.stringify({
          type: 'keymint-key-reference',
          version: 1,
          backend: 'pkcs11',
          location: { uri: `pkcs11:token=${TOKEN};object=k?module-path=${faulty}` },
          jwk: EC_PUBLIC,
        }),
      );
      writeFile(dir, 'p.txt', 'payload');
      return { args: ['sign', '--key', 'ref.json', 'p.txt'], pattern: /is not trusted/ };
    },
  },
];

describe("the README's exit-code table", () => {
  const table = readmeTable();

  it('documents each exit code once, every error code of core in a row, and each row is produced below', async () => {
    const { ErrorCode } = await import('@keymint/core');
    expect(table.map((r) => r.exit)).toEqual([...new Set(table.map((r) => r.exit))]);
    const documented = table.flatMap((r) => r.codes);
    for (const code of Object.values(ErrorCode)) expect(documented, code).toContain(code);
    const covered = new Set(CASES.map((c) => c.exit));
    for (const row of table) if (row.exit > 1) expect(covered.has(row.exit), `exit ${row.exit} has a case`).toBe(true);
  });

  it.each(CASES.map((c) => [`${c.exit}: ${c.name}`, c] as const))('%s', async (_name, testCase) => {
    const dir = tempDir();
    const { args, env, pattern } = await testCase.run(dir);
    const options = env === undefined ? {} : { env };
    const human: RunResult = await expectFailure(dir, args, testCase.exit, [pattern], options);
    expect(human.stderr).toMatch(/^keymint: /);
    const json = await keymint([...args, '--json'], { cwd: dir, ...options });
    expect(json.code).toBe(testCase.exit);
    const code = (JSON.parse(json.stdout) as { error: { code: string } }).error.code;
    expect(
      table.find((r) => r.exit === testCase.exit)?.codes,
      `the row of exit ${testCase.exit} names ${code}`,
    ).toContain(code);
  });
});
