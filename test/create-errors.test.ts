import { chmodSync, copyFileSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTool } from '@keymint/test-kit';
import {
  EXIT,
  FAST,
  IS_ROOT,
  NOBODY,
  PASSWORD,
  decryptWithJose,
  expectFailure,
  giveToNobody,
  keymint,
  listDir,
  modeOf,
  passwordFile,
  readJson,
  snapshot,
  tempDir,
  writeFile,
  type Jwk,
} from './helpers.js';

/**
 * Every bad input: the documented exit code, one "keymint: " line on stderr that names the flag
 * or file and what is accepted, no stack trace, and the directory exactly as it was.
 */

const { USAGE, PARAM_INVALID: PARAM, DECRYPT_FAILED: DECRYPT, FILE_EXISTS: EXISTS, IO, INPUT_INVALID: INPUT } = EXIT;

/** A temp dir holding a password file "pass.txt". */
function dirWithPassword(): string {
  const dir = tempDir();
  passwordFile(dir);
  return dir;
}

/** keymint create with a password file and the fast count, so that only `flags` can be wrong. */
function withPassword(flags: readonly string[]): string[] {
  return ['create', ...FAST, '--password-file', 'pass.txt', ...flags, 'k.pub', 'k.json'];
}

describe('REFERENCE §1 parameter rules: exit 3', () => {
  it.each([
    ['unknown --kty', ['--kty', 'DSA'], [/--kty "DSA"/, /EC, OKP, RSA or oct/]],
    ['--kty is case-sensitive', ['--kty', 'ec'], [/--kty "ec"/, /EC, OKP, RSA or oct/]],
    ['--type is the same flag', ['--type', 'rsa'], [/--kty "rsa"/, /EC, OKP, RSA or oct/]],
    ['unknown EC curve', ['--crv', 'P-999'], [/--crv "P-999"/, /P-256, P-384, P-521 or secp256k1/]],
    ['--crv is case-sensitive', ['--crv', 'p-256'], [/--crv "p-256"/, /P-256/]],
    [
      'an OKP curve for EC',
      ['--kty', 'EC', '--crv', 'Ed25519'],
      [/--crv "Ed25519"/, /P-256, P-384, P-521 or secp256k1/],
    ],
    ['an EC curve for OKP', ['--kty', 'OKP', '--curve', 'P-256'], [/--crv "P-256"/, /Ed25519, Ed448, X25519 or X448/]],
    ['--size with EC (the default kty)', ['--size', '256'], [/--size/, /--kty EC/, /curve sets the size/]],
    ['--size with OKP', ['--kty', 'OKP', '--size', '256'], [/--size/, /--kty OKP/]],
    ['--crv with RSA', ['--kty', 'RSA', '--crv', 'P-256'], [/--crv/, /--kty RSA/, /only EC and OKP/]],
    ['--crv with oct', ['--kty', 'oct', '--crv', 'P-256'], [/--crv/, /--kty oct/]],
    [
      'RSA below 2048 without --insecure',
      ['--kty', 'RSA', '--size', '1024'],
      [/--size 1024/, /minimum is 2048/, /--insecure/],
    ],
    [
      'RSA below 512 even with --insecure',
      ['--kty', 'RSA', '--size', '256', '--insecure'],
      [/--size 256/, /minimum is 512/],
    ],
    ['RSA above 16384', ['--kty', 'RSA', '--size', '16385'], [/--size 16385/, /16384/]],
    [
      'oct below 128 without --insecure',
      ['--kty', 'oct', '--use', 'wrap', '--size', '64'],
      [/--size 64/, /minimum is 128/, /--insecure/],
    ],
    ['non-numeric --size', ['--kty', 'RSA', '--size', 'big'], [/--size "big"/, /bits/]],
    ['fractional --size', ['--kty', 'RSA', '--size', '2048.0'], [/--size "2048.0"/, /bits/]],
    ['negative --size', ['--kty', 'RSA', '--size', '-2048'], [/--size "-2048"/, /bits/]],
    ['hex --size', ['--kty', 'RSA', '--size', '0x800'], [/--size "0x800"/, /bits/]],
    ['empty --size', ['--kty', 'RSA', '--size', ''], [/--size/, /bits/]],
    ['oct size not whole bytes', ['--kty', 'oct', '--size', '260'], [/--size 260/, /multiple of 8/]],
    ['RSA alg on an EC key', ['--alg', 'RS256'], [/--alg "RS256"/, /use ES256/]],
    ['ES256 on P-384', ['--crv', 'P-384', '--alg', 'ES256'], [/--alg "ES256"/, /use ES384/, /P-256/]],
    ['ES512 on P-256', ['--crv', 'P-256', '--algorithm', 'ES512'], [/--alg "ES512"/, /use ES256/]],
    ['ES256 on secp256k1', ['--crv', 'secp256k1', '--alg', 'ES256'], [/--alg "ES256"/, /use ES256K/]],
    ['ES256K on P-256', ['--alg', 'ES256K'], [/--alg "ES256K"/, /use ES256/]],
    [
      'EC alg on RSA',
      ['--kty', 'RSA', '--alg', 'ES256'],
      [/--alg "ES256"/, /RS256, RS384, RS512, PS256, PS384 or PS512/],
    ],
    ['HMAC alg on RSA', ['--kty', 'RSA', '--alg', 'HS256'], [/--alg "HS256"/, /RS256/]],
    ['RSA alg on oct', ['--kty', 'oct', '--alg', 'RS256'], [/--alg "RS256"/, /HS256, HS384 or HS512/]],
    ['EC alg on OKP', ['--kty', 'OKP', '--alg', 'ES256'], [/--alg "ES256"/, /use EdDSA/]],
    ['unknown alg', ['--kty', 'RSA', '--alg', 'RS1024'], [/--alg "RS1024"/, /RS256/]],
    [
      'sig alg with --use enc (EC)',
      ['--use', 'enc', '--alg', 'ES256'],
      [/--alg "ES256"/, /ECDH-ES, ECDH-ES\+A128KW, ECDH-ES\+A192KW or ECDH-ES\+A256KW/, /--use sig/],
    ],
    [
      'sig alg with --use enc (RSA)',
      ['--kty', 'RSA', '--use', 'enc', '--alg', 'RS256'],
      [/--alg "RS256"/, /RSA1_5, RSA-OAEP or RSA-OAEP-256/],
    ],
    [
      'sig alg with --use enc (oct)',
      ['--kty', 'oct', '--use', 'enc', '--alg', 'HS256'],
      [/--alg "HS256"/, /A256GCMKW/],
    ],
    [
      'enc alg with --use sig (default)',
      ['--kty', 'RSA', '--alg', 'RSA-OAEP-256'],
      [/--alg "RSA-OAEP-256"/, /--use enc/],
    ],
    ['enc alg with --use sig (oct)', ['--kty', 'oct', '--alg', 'A128KW'], [/--alg "A128KW"/, /HS256/, /--use enc/]],
    ['RSA1_5 without --subtle', ['--kty', 'RSA', '--use', 'enc', '--alg', 'RSA1_5'], [/--alg RSA1_5/, /--subtle/]],
    [
      'a PBES2 alg',
      ['--kty', 'oct', '--use', 'enc', '--alg', 'PBES2-HS256+A128KW'],
      [/--alg PBES2-HS256\+A128KW/, /password/],
    ],
    ['a PBES2 alg on EC', ['--alg', 'PBES2-HS512+A256KW'], [/--alg PBES2-HS512\+A256KW/]],
    [
      'OKP Ed25519 with --use enc',
      ['--kty', 'OKP', '--use', 'enc'],
      [/--crv Ed25519/, /cannot encrypt/, /X25519 or X448/],
    ],
    [
      'OKP Ed448 with --use enc',
      ['--kty', 'OKP', '--crv', 'Ed448', '--use', 'enc'],
      [/--crv Ed448/, /cannot encrypt/, /X25519 or X448/],
    ],
    [
      'X25519 with sig (the default use)',
      ['--kty', 'OKP', '--crv', 'X25519'],
      [/--crv X25519/, /cannot sign/, /--use enc/, /Ed25519 or Ed448/],
    ],
    ['X448 with --use sig', ['--kty', 'OKP', '--crv', 'X448', '--use', 'sig'], [/--crv X448/, /cannot sign/]],
    ['X25519 with EdDSA', ['--kty', 'OKP', '--crv', 'X25519', '--use', 'sig', '--alg', 'EdDSA'], [/--crv X25519/]],
    [
      'oct --size conflicting with A128KW',
      ['--kty', 'oct', '--use', 'enc', '--alg', 'A128KW', '--size', '256'],
      [/--size 256/, /A128KW/, /128-bit/],
    ],
    [
      'oct --size conflicting with A256GCMKW',
      ['--kty', 'oct', '--use', 'enc', '--alg', 'A256GCMKW', '--size', '128'],
      [/--size 128/, /A256GCMKW/, /256-bit/],
    ],
    [
      'oct --size conflicting with A192KW',
      ['--kty', 'oct', '--use', 'enc', '--alg', 'A192KW', '--size', '128'],
      [/--size 128/, /A192KW/],
    ],
    [
      'oct --size too small for HS384',
      ['--kty', 'oct', '--alg', 'HS384', '--size', '256'],
      [/--size 256/, /HS384/, /384/],
    ],
    ['oct --size too small for the default HS256', ['--kty', 'oct', '--size', '128'], [/--size 128/, /HS256/, /256/]],
    [
      'oct --size not a dir key size',
      ['--kty', 'oct', '--use', 'enc', '--alg', 'dir', '--size', '136'],
      [/--size 136/, /--alg dir/, /128, 192, 256, 384 or 512/],
    ],
    ['empty --kid', ['--kid', ''], [/--kid/, /empty/]],
    ['empty --use', ['--use', ''], [/--use/, /sig or enc/]],
    ['empty --alg', ['--alg', ''], [/--alg/, /empty/]],
  ] as [string, string[], RegExp[]][])('%s', async (_name, flags, patterns) => {
    await expectFailure(dirWithPassword(), withPassword(flags), PARAM, patterns);
  });
});

describe('--pbes2-count: exit 3', () => {
  it.each([['999'], ['0'], ['1000001'], ['abc'], ['1e4'], ['5000.5'], ['']])('--pbes2-count %j', async (count) => {
    await expectFailure(
      dirWithPassword(),
      ['create', '--password-file', 'pass.txt', '--pbes2-count', count, 'k.pub', 'k.json'],
      PARAM,
      [/--pbes2-count/, /1000 to 1000000/],
    );
  });
});

describe('command line: exit 2', () => {
  it.each([
    [
      'the same file twice',
      ['create', ...FAST, '--password-file', 'pass.txt', 'k.json', 'k.json'],
      [/two different files/, /k\.json/],
    ],
    [
      'the same file twice, spelled differently',
      ['create', ...FAST, '--password-file', 'pass.txt', 'k.json', './k.json'],
      [/two different files/],
    ],
    [
      '--no-password without --insecure',
      ['create', '--no-password', 'k.pub', 'k.json'],
      [/--no-password/, /--insecure/],
    ],
    [
      '--no-password with --password-file',
      ['create', '--no-password', '--insecure', '--password-file', 'pass.txt', 'k.pub', 'k.json'],
      [/--no-password/, /--password-file/],
    ],
    [
      'an unknown flag',
      ['create', '--password-file', 'pass.txt', '--colour', 'blue', 'k.pub', 'k.json'],
      [/unknown option '--colour'/, /--help/],
    ],
    [
      "one file only (the examples of step's manual)",
      ['create', '--password-file', 'pass.txt', 'jwk.json'],
      [
        /keymint create needs two files, the public and the private one: jwk\.json alone is one; e\.g\. keymint create jwk\.pub\.json jwk\.json/,
      ],
    ],
    ['no file arguments', ['create', '--password-file', 'pass.txt'], [/missing required argument 'public-jwk-file'/]],
    [
      'a third file argument',
      ['create', '--password-file', 'pass.txt', 'a', 'b', 'c'],
      [/too many arguments|unexpected|excess/i],
    ],
    ['a flag without its value', ['create', 'k.pub', 'k.json', '--kty'], [/--kty/, /argument missing/]],
    ['an unknown command', ['make', 'k.pub', 'k.json'], [/unknown command 'make'/]],
    [
      'an unknown --backend',
      ['create', '--password-file', 'pass.txt', '--backend', 'hsm', 'k.pub', 'k.json'],
      [/--backend "hsm"/, /use software/],
    ],
    [
      '--pem-password-file without --from-pem',
      ['create', '--password-file', 'pass.txt', '--pem-password-file', 'pass.txt', 'k.pub', 'k.json'],
      [/--pem-password-file/, /--from-pem/],
    ],
    ['no password source and no terminal', ['create', ...FAST, 'k.pub', 'k.json'], [/no terminal/, /--password-file/]],
  ] as [string, string[], RegExp[]][])('%s', async (_name, args, patterns) => {
    await expectFailure(dirWithPassword(), args, USAGE, patterns);
  });
});

describe('password files', () => {
  it('a missing password file: exit 8, names it', async () => {
    await expectFailure(dirWithPassword(), ['create', ...FAST, '--password-file', 'nope.txt', 'k.pub', 'k.json'], IO, [
      /--password-file/,
      /nope\.txt/,
      /no such file/,
    ]);
  });

  it('a password file that is a directory: exit 8', async () => {
    const dir = dirWithPassword();
    mkdirSync(join(dir, 'secrets'));
    await expectFailure(dir, ['create', ...FAST, '--password-file', 'secrets', 'k.pub', 'k.json'], IO, [
      /--password-file/,
      /secrets/,
      /directory/,
    ]);
  });

  it('a password file under a path that is not a directory: exit 8', async () => {
    await expectFailure(
      dirWithPassword(),
      ['create', ...FAST, '--password-file', 'pass.txt/x', 'k.pub', 'k.json'],
      IO,
      [/--password-file/, /pass\.txt\/x/],
    );
  });

  it('an unreadable password file: exit 8, permission denied', async () => {
    const dir = dirWithPassword();
    chmodSync(join(dir, 'pass.txt'), 0o000);
    giveToNobody(dir);
    await expectFailure(
      dir,
      ['create', ...FAST, '--password-file', 'pass.txt', 'k.pub', 'k.json'],
      IO,
      [/--password-file/, /pass\.txt/, /permission denied/],
      {
        ...(IS_ROOT ? { user: NOBODY } : {}),
      },
    );
  });

  it.each([
    ['empty', ''],
    ['only a newline', '\n'],
    ['only whitespace', ' \t \r\n\n'],
  ])('a password file that is %s: exit 3', async (_name, content) => {
    const dir = tempDir();
    writeFile(dir, 'empty.txt', content);
    await expectFailure(dir, ['create', ...FAST, '--password-file', 'empty.txt', 'k.pub', 'k.json'], PARAM, [
      /--password-file/,
      /empty\.txt/,
      /empty/,
    ]);
  });
});

describe('password files (size)', () => {
  it('a password file larger than 1 MiB: exit 9', async () => {
    const dir = tempDir();
    writeFile(dir, 'huge.txt', Buffer.alloc(2 * 1024 * 1024, 0x61));
    await expectFailure(dir, ['create', ...FAST, '--password-file', 'huge.txt', 'k.pub', 'k.json'], INPUT, [
      /--password-file/,
      /huge\.txt/,
      /bytes/,
    ]);
  });
});

describe('output files', () => {
  it('the public path is a directory: exit 8', async () => {
    const dir = dirWithPassword();
    mkdirSync(join(dir, 'out'));
    await expectFailure(dir, ['create', ...FAST, '--password-file', 'pass.txt', 'out', 'k.json'], IO, [
      /out/,
      /is a directory/,
      /file name/,
    ]);
  });

  it('the private path is a directory: exit 8, even with --force', async () => {
    const dir = dirWithPassword();
    mkdirSync(join(dir, 'out'));
    await expectFailure(dir, ['create', ...FAST, '--force', '--password-file', 'pass.txt', 'k.pub', 'out'], IO, [
      /out/,
      /is a directory/,
    ]);
  });

  it('a snapshot catches a new hidden temp file (self-check of the helper)', () => {
    const dir = tempDir();
    const before = snapshot(dir);
    writeFile(dir, '.k.json.keymint-0000.tmp', 'x');
    expect(snapshot(dir)).not.toEqual(before);
  });

  it("the public file's directory is a file: exit 8", async () => {
    await expectFailure(
      dirWithPassword(),
      ['create', ...FAST, '--password-file', 'pass.txt', 'pass.txt/k.pub', 'k.json'],
      IO,
      [/pass\.txt\/k\.pub/, /not a directory/],
    );
  });

  it("the public file's directory does not exist: exit 8", async () => {
    await expectFailure(
      dirWithPassword(),
      ['create', ...FAST, '--password-file', 'pass.txt', 'missing/k.pub', 'k.json'],
      IO,
      [/missing\/k\.pub/, /does not exist/],
    );
  });

  it("the private file's directory does not exist: exit 8", async () => {
    await expectFailure(
      dirWithPassword(),
      ['create', ...FAST, '--password-file', 'pass.txt', 'k.pub', 'missing/k.json'],
      IO,
      [/missing\/k\.json/, /does not exist/],
    );
  });

  it("the private file's directory is not writable: exit 8 and the public file is not left behind", async () => {
    const dir = dirWithPassword();
    mkdirSync(join(dir, 'locked'));
    chmodSync(join(dir, 'locked'), 0o555);
    giveToNobody(dir);
    await expectFailure(
      dir,
      ['create', ...FAST, '--password-file', 'pass.txt', 'k.pub', 'locked/k.json'],
      IO,
      [/locked\/k\.json/, /permission denied/],
      {
        ...(IS_ROOT ? { user: NOBODY } : {}),
      },
    );
  });

  it.each([
    ['the public file', 'k.pub'],
    ['the private file', 'k.json'],
  ])('%s exists, no --force: exit 7, the file is unchanged byte for byte', async (_name, existing) => {
    const dir = dirWithPassword();
    writeFile(dir, existing, '{"precious": true}\n', 0o640);
    const before = readFileSync(join(dir, existing));
    await expectFailure(dir, ['create', ...FAST, '--password-file', 'pass.txt', 'k.pub', 'k.json'], EXISTS, [
      new RegExp(existing.replace('.', '\\.')),
      /already exists/,
      /--force/,
    ]);
    expect(readFileSync(join(dir, existing)).equals(before)).toBe(true);
    expect(modeOf(join(dir, existing))).toBe(0o640);
  });

  it('a dangling symlink at the private path, no --force: exit 7, the public file already renamed into place is removed', async () => {
    const dir = dirWithPassword();
    symlinkSync('nowhere', join(dir, 'k.json'));
    await expectFailure(dir, ['create', ...FAST, '--password-file', 'pass.txt', 'k.pub', 'k.json'], EXISTS, [
      /k\.json/,
      /already exists/,
    ]);
  });

  it('with --force an existing file is replaced', async () => {
    const dir = dirWithPassword();
    writeFile(dir, 'k.pub', 'old\n');
    writeFile(dir, 'k.json', 'old\n');
    const result = await keymint(['create', ...FAST, '--force', '--password-file', 'pass.txt', 'k.pub', 'k.json'], {
      cwd: dir,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(readJson<Jwk>(join(dir, 'k.pub')).kty).toBe('EC');
    expect((await decryptWithJose(join(dir, 'k.json'), PASSWORD)).kty).toBe('EC');
    expect(listDir(dir)).toEqual(['k.json', 'k.pub', 'pass.txt']);
  });

  it('parameters are checked before anything is written or asked: a bad --kty with an existing file reports the --kty', async () => {
    const dir = dirWithPassword();
    writeFile(dir, 'k.pub', 'old\n');
    await expectFailure(dir, withPassword(['--kty', 'DSA']), PARAM, [/--kty/]);
  });
});

describe('--from-pem inputs that are wrong', () => {
  let pems: string;

  beforeAll(() => {
    pems = mkdtempSync(join(tmpdir(), 'keymint-e2e-pems-'));
    runTool('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ec.pem'], {
      cwd: pems,
    });
    runTool('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', 'ed.pem'], { cwd: pems });
    runTool('openssl', ['pkcs8', '-topk8', '-in', 'ec.pem', '-passout', 'pass:pem-secret', '-out', 'enc.pem'], {
      cwd: pems,
    });
    runTool('openssl', ['ec', '-in', 'ec.pem', '-aes256', '-passout', 'pass:pem-secret', '-out', 'legacy.pem'], {
      cwd: pems,
    });
    runTool('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'ssh-secret', '-f', 'ssh.key'], { cwd: pems });
  });

  afterAll(() => rmSync(pems, { recursive: true, force: true }));

  /** A temp dir with pass.txt and a copy of the generated PEM `name`. */
  function dirWith(...names: string[]): string {
    const dir = dirWithPassword();
    for (const name of names) copyFileSync(join(pems, name), join(dir, name));
    return dir;
  }

  it('a missing --from-pem file: exit 8', async () => {
    await expectFailure(dirWithPassword(), withPassword(['--from-pem', 'nope.pem']), IO, [
      /--from-pem/,
      /nope\.pem/,
      /no such file/,
    ]);
  });

  it('a --from-pem that is a directory: exit 8', async () => {
    const dir = dirWithPassword();
    mkdirSync(join(dir, 'keys'));
    await expectFailure(dir, withPassword(['--from-pem', 'keys']), IO, [/--from-pem/, /keys/, /directory/]);
  });

  it('an unreadable --from-pem file: exit 8', async () => {
    const dir = dirWith('ec.pem');
    chmodSync(join(dir, 'ec.pem'), 0o000);
    giveToNobody(dir);
    await expectFailure(
      dir,
      withPassword(['--from-pem', 'ec.pem']),
      IO,
      [/--from-pem/, /ec\.pem/, /permission denied/],
      { ...(IS_ROOT ? { user: NOBODY } : {}) },
    );
  });

  it('garbage: exit 9, names the file and the accepted PEM blocks', async () => {
    const dir = dirWithPassword();
    writeFile(dir, 'garbage.pem', 'this is not a key\n\x00\x01\x02 at all\n');
    await expectFailure(dir, withPassword(['--from-pem', 'garbage.pem']), INPUT, [
      /garbage\.pem/,
      /no PEM block/,
      /PUBLIC KEY/,
      /PRIVATE KEY/,
      /CERTIFICATE/,
    ]);
  });

  it('a DER (binary) key instead of PEM: exit 9', async () => {
    const dir = dirWith('ec.pem');
    runTool('openssl', ['pkey', '-in', 'ec.pem', '-outform', 'DER', '-out', 'ec.der'], { cwd: dir });
    await expectFailure(dir, withPassword(['--from-pem', 'ec.der']), INPUT, [/ec\.der/, /no PEM block/, /PRIVATE KEY/]);
  });

  it('an empty file: exit 9', async () => {
    const dir = dirWithPassword();
    writeFile(dir, 'empty.pem', '');
    await expectFailure(dir, withPassword(['--from-pem', 'empty.pem']), INPUT, [/empty\.pem/, /empty/, /PRIVATE KEY/]);
  });

  it('a multi-block PEM: exit 9', async () => {
    const dir = dirWithPassword();
    writeFile(dir, 'two.pem', readFileSync(join(pems, 'ec.pem'), 'utf8') + readFileSync(join(pems, 'ed.pem'), 'utf8'));
    await expectFailure(dir, withPassword(['--from-pem', 'two.pem']), INPUT, [
      /two\.pem/,
      /2 PEM blocks/,
      /exactly one/,
    ]);
  });

  it('a PEM block whose base64 is cut short: exit 9', async () => {
    const dir = dirWithPassword();
    const lines = readFileSync(join(pems, 'ec.pem'), 'utf8').trim().split('\n');
    writeFile(dir, 'cut.pem', [lines[0], (lines[1] ?? '').slice(0, 20), lines[lines.length - 1], ''].join('\n'));
    await expectFailure(dir, withPassword(['--from-pem', 'cut.pem']), INPUT, [/cut\.pem/, /corrupt/]);
  });

  it('a block with no END line: exit 9', async () => {
    const dir = dirWithPassword();
    const text = readFileSync(join(pems, 'ec.pem'), 'utf8').replace(/-----END[^\n]*\n?/, '');
    writeFile(dir, 'open.pem', text);
    await expectFailure(dir, withPassword(['--from-pem', 'open.pem']), INPUT, [/open\.pem/, /END PRIVATE KEY/]);
  });

  it('an unknown PEM label: exit 9', async () => {
    const dir = dirWithPassword();
    writeFile(dir, 'params.pem', runTool('openssl', ['ecparam', '-name', 'prime256v1']));
    await expectFailure(dir, withPassword(['--from-pem', 'params.pem']), INPUT, [
      /params\.pem/,
      /EC PARAMETERS/,
      /PRIVATE KEY/,
    ]);
  });

  it('a wrong PEM password (encrypted PKCS#8): exit 6', async () => {
    const dir = dirWith('enc.pem');
    writeFile(dir, 'pem-pass.txt', 'not-the-password\n');
    await expectFailure(dir, withPassword(['--from-pem', 'enc.pem', '--pem-password-file', 'pem-pass.txt']), DECRYPT, [
      /wrong password/,
      /enc\.pem/,
    ]);
  });

  it('a wrong PEM password (legacy Proc-Type encrypted PEM): exit 6', async () => {
    const dir = dirWith('legacy.pem');
    writeFile(dir, 'pem-pass.txt', 'not-the-password\n');
    await expectFailure(
      dir,
      withPassword(['--from-pem', 'legacy.pem', '--pem-password-file', 'pem-pass.txt']),
      DECRYPT,
      [/wrong password/, /legacy\.pem/],
    );
  });

  it('a wrong password for an encrypted OpenSSH key: exit 6', async () => {
    const dir = dirWith('ssh.key');
    writeFile(dir, 'pem-pass.txt', 'not-the-password\n');
    await expectFailure(dir, withPassword(['--from-pem', 'ssh.key', '--pem-password-file', 'pem-pass.txt']), DECRYPT, [
      /wrong password/,
      /ssh\.key/,
    ]);
  });

  it('an encrypted PEM with no password and no terminal: exit 2', async () => {
    const dir = dirWith('enc.pem');
    await expectFailure(dir, withPassword(['--from-pem', 'enc.pem']), USAGE, [
      /enc\.pem/,
      /no terminal/,
      /--pem-password-file/,
    ]);
  });

  it('a missing --pem-password-file: exit 8', async () => {
    const dir = dirWith('enc.pem');
    await expectFailure(dir, withPassword(['--from-pem', 'enc.pem', '--pem-password-file', 'nope.txt']), IO, [
      /--pem-password-file/,
      /nope\.txt/,
    ]);
  });

  it('an empty --pem-password-file: exit 3', async () => {
    const dir = dirWith('enc.pem');
    writeFile(dir, 'pem-pass.txt', '\n');
    await expectFailure(dir, withPassword(['--from-pem', 'enc.pem', '--pem-password-file', 'pem-pass.txt']), PARAM, [
      /--pem-password-file/,
      /empty/,
    ]);
  });

  it('--from-pem with another backend: exit 2', async () => {
    const dir = dirWith('ec.pem');
    await expectFailure(dir, withPassword(['--from-pem', 'ec.pem', '--backend', 'pkcs11']), USAGE, [
      /--from-pem/,
      /--backend software/,
    ]);
  });

  it('--from-pem with an existing output and no --force: exit 7', async () => {
    const dir = dirWith('ec.pem');
    writeFile(dir, 'k.json', 'keep me\n');
    await expectFailure(dir, withPassword(['--from-pem', 'ec.pem']), EXISTS, [/k\.json/, /already exists/]);
  });
});

describe('one file under two names: exit 2, both named, nothing written', () => {
  /** A dir with pass.txt, an existing k.pub / k.json, and `sub` a link back to the dir itself. */
  function dirWithNames(): string {
    const dir = dirWithPassword();
    writeFile(dir, 'k.pub', 'old public\n');
    writeFile(dir, 'k.json', 'old private\n', 0o600);
    symlinkSync('.', join(dir, 'sub'));
    return dir;
  }

  it.each([
    [
      'the private path through a link to the same directory (an existing file)',
      ['k.pub', 'sub/k.pub'],
      /k\.pub and sub\/k\.pub are the same file/,
    ],
    [
      'the private path through a link to the same directory (a new file)',
      ['new.pub', 'sub/new.pub'],
      /new\.pub and sub\/new\.pub are the same file/,
    ],
    ['two hard links of one file', ['k.pub', 'hard.pub'], /k\.pub and hard\.pub are the same file/],
    ['a ../dir/ spelling of the same name', ['k.pub', '../DIR/k.pub'], /k\.pub and \.\.\/.*\/k\.pub are the same file/],
    // "in/.." is the parent of what "in" points to (nested), not this directory: text cannot tell.
    [
      '".." after a link to a nested directory',
      ['k.pub', 'in/../../k.pub'],
      /k\.pub and in\/\.\.\/\.\.\/k\.pub are the same file/,
    ],
    [
      'a symbolic link output that points at the other output',
      ['link.pub', 'k.pub'],
      /link\.pub and k\.pub are the same file/,
    ],
  ])('%s, with --force', async (_name, [pub, priv], message) => {
    const dir = dirWithNames();
    linkSync(join(dir, 'k.pub'), join(dir, 'hard.pub'));
    symlinkSync('k.pub', join(dir, 'link.pub'));
    mkdirSync(join(dir, 'nested', 'inner'), { recursive: true });
    symlinkSync(join('nested', 'inner'), join(dir, 'in'));
    const spell = (p: string) => p.replace('DIR', basename(dir));
    await expectFailure(
      dir,
      ['create', ...FAST, '--force', '--password-file', 'pass.txt', spell(pub as string), spell(priv as string)],
      USAGE,
      [message, /the output files must be two different files/],
    );
  });

  it.each([
    [
      '--password-file as the private file',
      ['--password-file', 'pass.txt', 'k.pub', 'pass.txt'],
      /--password-file pass\.txt and the output pass\.txt are the same file/,
    ],
    [
      '--password-file as the public file, through a link',
      ['--password-file', 'pass.txt', 'sub/pass.txt', 'k.json'],
      /--password-file pass\.txt and the output sub\/pass\.txt are the same file/,
    ],
    [
      '--password-file spelled ../dir/',
      ['--password-file', '../DIR/pass.txt', 'k.pub', 'pass.txt'],
      /--password-file \.\.\/.*\/pass\.txt and the output pass\.txt are the same file/,
    ],
    [
      '--from-pem as the private file',
      ['--password-file', 'pass.txt', '--from-pem', 'ec.pem', 'k.pub', 'ec.pem'],
      /--from-pem ec\.pem and the output ec\.pem are the same file/,
    ],
    [
      '--from-pem as the public file, through a link',
      ['--password-file', 'pass.txt', '--from-pem', 'sub/ec.pem', 'ec.pem', 'k.json'],
      /--from-pem sub\/ec\.pem and the output ec\.pem/,
    ],
    [
      '--pem-password-file as the private file',
      [
        '--password-file',
        'pass.txt',
        '--from-pem',
        'enc.pem',
        '--pem-password-file',
        'pem-pass.txt',
        'k.pub',
        'pem-pass.txt',
      ],
      /--pem-password-file pem-pass\.txt and the output pem-pass\.txt/,
    ],
  ])('an input that is an output: %s, with --force', async (_name, args, message) => {
    const dir = dirWithNames();
    runTool('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ec.pem'], {
      cwd: dir,
    });
    runTool('openssl', ['pkcs8', '-topk8', '-in', 'ec.pem', '-passout', 'pass:pem-secret', '-out', 'enc.pem'], {
      cwd: dir,
    });
    writeFile(dir, 'pem-pass.txt', 'pem-secret\n');
    const spelled = (args as string[]).map((a) => a.replace('DIR', basename(dir)));
    await expectFailure(dir, ['create', ...FAST, '--force', ...spelled], USAGE, [
      message,
      /keymint would overwrite what it reads/,
    ]);
  });
});
