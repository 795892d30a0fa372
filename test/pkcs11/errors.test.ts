import { afterAll, describe, expect, it } from 'vitest';
import { SOFTHSM_MODULE, startSoftHsm } from '@keymint/test-kit';
import { EXIT, expectFailure, keymint, listDir, tempDir, writeFile } from '../helpers.js';

/**
 * Every bad input to the pkcs11 commands: the documented exit code, one "keymint: " line on
 * stderr, no stack trace, no file written, and the token as it was.
 */

const {
  USAGE,
  ALG_NOT_SUPPORTED: ALG,
  BACKEND_UNAVAILABLE: UNAVAILABLE,
  FILE_EXISTS: EXISTS,
  TOKEN_NOT_FOUND,
  PIN_INCORRECT,
  KEY_EXISTS,
} = EXIT;

const TOKEN = 'e2e-errors';
const OTHER = 'e2e-other';
const softhsm = startSoftHsm([TOKEN, OTHER], { setEnv: true });
afterAll(() => softhsm.remove());

const create = (uri: string, ...flags: string[]) => [
  'create',
  '--backend',
  'pkcs11',
  '--pkcs11-uri',
  uri,
  ...flags,
  'k.pub.json',
  'k.json',
];

describe('keymint create --backend pkcs11: bad inputs', () => {
  it.each([
    [
      'no --pkcs11-uri',
      ['create', '--backend', 'pkcs11', 'k.pub.json', 'k.json'],
      USAGE,
      [/^keymint: the pkcs11 backend needs a token to create keys on: none was given; give --pkcs11-uri/],
    ],
    [
      'a malformed URI',
      create('pkcs11:token=my token'),
      USAGE,
      [/^keymint: invalid PKCS#11 URI: "token" holds " ", which must be percent-encoded/],
    ],
    ['a URI without a module', create(`pkcs11:token=${TOKEN}`), USAGE, [/no PKCS#11 module given: add \?module-path=/]],
    [
      'a module that does not exist',
      create(`pkcs11:token=${TOKEN}?module-path=/usr/lib/nope/libnope.so`),
      UNAVAILABLE,
      [/^keymint: the PKCS#11 module \/usr\/lib\/nope\/libnope\.so does not exist; install it/],
    ],
    [
      'a library that is not PKCS#11',
      create(`pkcs11:token=${TOKEN}?module-path=/usr/lib/x86_64-linux-gnu/libz.so.1`),
      UNAVAILABLE,
      [/libz\.so\.1 is not a PKCS#11 module: it could not be loaded/],
    ],
    [
      'no such token',
      create(`pkcs11:token=nope?module-path=${SOFTHSM_MODULE}`),
      TOKEN_NOT_FOUND,
      [
        /^keymint: no token matches token "nope" in the PKCS#11 module \/usr\/lib\/softhsm\/libsofthsm2\.so: its tokens are "[^"]+" \(serial [0-9a-f]+\) in slot \d+ and "[^"]+" \(serial [0-9a-f]+\) in slot \d+; see keymint pkcs11 tokens$/m,
        new RegExp(`"${TOKEN}" \\(serial`),
        new RegExp(`"${OTHER}" \\(serial`),
      ],
    ],
    [
      'a key type the token cannot make',
      create(softhsm.uri(TOKEN), '--kty', 'OKP', '--crv', 'X25519', '--use', 'enc'),
      ALG,
      [
        new RegExp(
          `^keymint: OKP X25519 ECDH-ES keys are not supported by token "${TOKEN}" \\(serial [0-9a-f]+\\): it can make RSA 512-16384, EC P-256, `,
        ),
      ],
    ],
  ])('%s', async (_name, args, code, patterns) => {
    const before = softhsm.objects(TOKEN);
    await expectFailure(tempDir(), args, code, patterns);
    expect(softhsm.objects(TOKEN)).toBe(before);
  });

  it('--json and no PIN source: a JSON error (ERR_PASSWORD_REQUIRED, exit 2), never a prompt, no file', async () => {
    const dir = tempDir();
    const before = softhsm.objects(TOKEN);
    const result = await keymint([...create(softhsm.uri(TOKEN, { pin: false })), '--json'], { cwd: dir });
    expect(result.code).toBe(USAGE);
    expect(JSON.parse(result.stdout)).toEqual({
      error: {
        code: 'ERR_PASSWORD_REQUIRED',
        message: expect.stringMatching(
          /^the PIN of token "e2e-errors" \(serial [0-9a-f]+\) is needed and there is no terminal to ask for it; give it with pin-source=file:/,
        ),
      },
    });
    expect(listDir(dir)).toEqual([]);
    expect(softhsm.objects(TOKEN)).toBe(before);
  });

  it('a wrong PIN: exit 11, one line that never shows the PIN; the right PIN still works', async () => {
    const dir = tempDir();
    writeFile(dir, 'wrong.pin', '999999\n');
    const uri = `pkcs11:token=${TOKEN}?module-path=${SOFTHSM_MODULE}&pin-source=file:wrong.pin`;
    const result = await expectFailure(dir, create(uri), PIN_INCORRECT, [
      new RegExp(
        `^keymint: token "${TOKEN}" \\(serial [0-9a-f]+\\) refused the PIN; check the PIN; keymint does not retry`,
      ),
    ]);
    expect(result.stderr).not.toContain('999999');
    const right = await keymint(create(softhsm.uri(TOKEN)), { cwd: tempDir() });
    expect(right.code, right.stderr).toBe(0);
  });

  it('a label that exists: exit 15, and the key on the token is left alone', async () => {
    const first = await keymint(create(softhsm.uri(TOKEN), '--kid', 'only-once'), { cwd: tempDir() });
    expect(first.code, first.stderr).toBe(0);
    const before = softhsm.objects(TOKEN);
    await expectFailure(tempDir(), create(softhsm.uri(TOKEN), '--kid', 'only-once'), KEY_EXISTS, [
      /already has an object with label "only-once": keymint never replaces a key on a token/,
    ]);
    await expectFailure(tempDir(), create(softhsm.uri(TOKEN, { path: 'object=only-once' })), KEY_EXISTS, [
      /label "only-once"/,
    ]);
    expect(softhsm.objects(TOKEN)).toBe(before);
  });

  it('an existing output file: exit 7 before the token is touched', async () => {
    const dir = tempDir();
    writeFile(dir, 'k.json', 'keep me');
    const before = softhsm.objects(TOKEN);
    await expectFailure(dir, create(softhsm.uri(TOKEN)), EXISTS, [/k\.json/]);
    expect(softhsm.objects(TOKEN)).toBe(before);
  });
});

describe('keymint pkcs11 tokens and keys: bad inputs', () => {
  it('tokens without a module: exit 2, naming the flag and the modules installed here', async () => {
    await expectFailure(tempDir(), ['pkcs11', 'tokens'], USAGE, [
      /^keymint: the PKCS#11 module to describe is not named: give --pkcs11-module PATH or set KEYMINT_PKCS11_MODULE; installed here: .*libsofthsm2\.so/,
    ]);
  });

  it('tokens with a module that does not exist: exit 5', async () => {
    await expectFailure(tempDir(), ['pkcs11', 'tokens', '--pkcs11-module', '/nope.so'], UNAVAILABLE, [
      /the PKCS#11 module \/nope\.so does not exist/,
    ]);
  });

  it('keys without a URI: exit 2; with a wrong PIN: exit 11; with --json and no PIN: a JSON error, no prompt', async () => {
    await expectFailure(tempDir(), ['pkcs11', 'keys'], USAGE, [
      /the pkcs11 backend needs a token to list keys of: none was given; give --pkcs11-uri/,
    ]);
    const dir = tempDir();
    writeFile(dir, 'wrong.pin', '111111\n');
    await expectFailure(
      dir,
      [
        'pkcs11',
        'keys',
        '--pkcs11-uri',
        `pkcs11:token=${TOKEN}?module-path=${SOFTHSM_MODULE}&pin-source=file:wrong.pin`,
      ],
      PIN_INCORRECT,
      [/refused the PIN/],
    );
    const json = await keymint(['pkcs11', 'keys', '--json', '--pkcs11-uri', softhsm.uri(TOKEN, { pin: false })], {
      cwd: tempDir(),
    });
    expect(json.code).toBe(USAGE);
    expect((JSON.parse(json.stdout) as { error: { code: string } }).error.code).toBe('ERR_PASSWORD_REQUIRED');
  });
});
