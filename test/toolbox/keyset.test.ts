import { spawn } from 'node:child_process';
import {
  closeSync,
  constants as fsConstants,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { expectOk, lockFor, runTool } from '@keymint/test-kit';
import { expectFailure, keymint, listDir, modeOf, privateMembersIn, tempDir, type Jwk } from '../helpers.js';
import { PASS_FILE, createKey, jwkFile, nodeJwk, ok, sharedDir, type KeyPairFiles } from './helpers.js';

/** Keys are made once; each test works on its own set file in its own temp dir. */
const keyDir = sharedDir();
const keys: Record<string, KeyPairFiles> = {};
const pw = ['--password-file', join(keyDir, PASS_FILE)];
const key = (name: string) => join(keyDir, (keys[name] as KeyPairFiles).priv);
const pub = (name: string) => join(keyDir, (keys[name] as KeyPairFiles).pub);
const jwk = (name: string) => (keys[name] as KeyPairFiles).publicJwk;

beforeAll(async () => {
  keys.ec = await createKey(keyDir, 'ec', ['--kid', 'ec-1']);
  keys.rsa = await createKey(keyDir, 'rsa', ['--kty', 'RSA', '--kid', 'rsa-1'], { plain: true });
  keys.ed = await createKey(keyDir, 'ed', ['--kty', 'OKP'], { plain: true });
  keys.oct = await createKey(keyDir, 'oct', ['--kty', 'oct', '--kid', 'hmac'], { plain: true });
});

type JwkSet = { keys: Jwk[] } & Record<string, unknown>;
const readSet = (dir: string, name = 'jwks.json') => JSON.parse(readFileSync(join(dir, name), 'utf8')) as JwkSet;

describe('keymint keyset add', () => {
  it('creates the set with the PUBLIC key of an encrypted private key file, 0644, two-space JSON', async () => {
    const dir = tempDir();
    const result = await ok(['keyset', 'add', ...pw, 'jwks.json', key('ec')], { cwd: dir });
    expect(result.stderr).toMatch(/Added key "ec-1" to jwks.json/);
    const text = readFileSync(join(dir, 'jwks.json'), 'utf8');
    expect(text).toBe(`${JSON.stringify({ keys: [jwk('ec')] }, null, 2)}\n`);
    expect(privateMembersIn(readSet(dir).keys[0] as Jwk)).toEqual([]);
    expect(modeOf(join(dir, 'jwks.json'))).toBe(0o644);
    expect(listDir(dir)).toEqual(['jwks.json']);
  });

  it('appends public keys from a plain private key, a public key and standard input; keeps other members', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'jwks.json'),
      JSON.stringify({ issuer: 'https://as.example', keys: [jwk('ec')], cache: 300 }),
    );
    await ok(['keyset', 'add', 'jwks.json', key('rsa')], { cwd: dir });
    await ok(['keyset', 'add', 'jwks.json', '-'], { cwd: dir, input: readFileSync(pub('ed'), 'utf8') });
    const set = readSet(dir);
    expect(Object.keys(set)).toEqual(['issuer', 'keys', 'cache']);
    expect(set).toEqual({ issuer: 'https://as.example', keys: [jwk('ec'), jwk('rsa'), jwk('ed')], cache: 300 });
    expect(set.keys.every((k) => privateMembersIn(k).length === 0)).toBe(true);
  });

  it('refuses a duplicate kid (exit 15, file unchanged), and the same key under another kid', async () => {
    const dir = tempDir();
    await ok(['keyset', 'add', 'jwks.json', key('rsa')], { cwd: dir });
    await expectFailure(dir, ['keyset', 'add', 'jwks.json', pub('rsa')], 15, [
      /the set already has a key with kid "rsa-1"/,
      /--force/,
    ]);
    await expectFailure(dir, ['keyset', 'add', '--kid', 'another', 'jwks.json', pub('rsa')], 15, [
      /the same key, with kid "rsa-1"/,
    ]);
    const other = nodeJwk('EC P-256', { kid: 'rsa-1' });
    jwkFile(dir, 'other.json', other);
    await expectFailure(dir, ['keyset', 'add', 'jwks.json', 'other.json'], 15, [/kid "rsa-1"/]);
  });

  it('--force replaces the key with the same kid', async () => {
    const dir = tempDir();
    await ok(['keyset', 'add', 'jwks.json', key('rsa')], { cwd: dir });
    await ok(['keyset', 'add', 'jwks.json', key('ed')], { cwd: dir });
    const other = nodeJwk('EC P-256', { kid: 'rsa-1' });
    jwkFile(dir, 'other.json', other);
    const result = await ok(['keyset', 'add', '--force', '--json', 'jwks.json', 'other.json'], { cwd: dir });
    expect(JSON.parse(result.stdout)).toEqual({ file: 'jwks.json', added: ['rsa-1'], removed: ['rsa-1'], keys: 2 });
    const set = readSet(dir);
    expect(set.keys.map((k) => [k.kid, k.kty])).toEqual([
      [jwk('ed').kid, 'OKP'],
      ['rsa-1', 'EC'],
    ]);
    expect(set.keys[1]).not.toHaveProperty('d');
  });

  it('--kid names the added key; a key without kid gets its RFC 7638 thumbprint', async () => {
    const dir = tempDir();
    await ok(['keyset', 'add', '--kid', 'renamed', 'jwks.json', pub('ed')], { cwd: dir });
    const { kid: _kid, ...noKid } = jwk('rsa');
    jwkFile(dir, 'nokid.json', noKid);
    const result = await ok(['keyset', 'add', 'jwks.json', 'nokid.json'], { cwd: dir });
    expect(result.stderr).toMatch(/its kid is now its RFC 7638 thumbprint/);
    const thumbprint = (await ok(['thumbprint', 'nokid.json'], { cwd: dir })).stdout.trim();
    expect(readSet(dir).keys.map((k) => k.kid)).toEqual(['renamed', thumbprint]);
  });

  it('--private adds the private key as it is, writes the set 0600 and warns', async () => {
    const dir = tempDir();
    await ok(['keyset', 'add', 'jwks.json', pub('rsa')], { cwd: dir });
    expect(modeOf(join(dir, 'jwks.json'))).toBe(0o644);
    const result = await ok(['keyset', 'add', '--private', ...pw, 'jwks.json', key('ec')], { cwd: dir });
    expect(result.stderr).toMatch(/holds private keys: .* 0600; never publish it/);
    expect(modeOf(join(dir, 'jwks.json'))).toBe(0o600);
    expect(readSet(dir).keys[1]).toHaveProperty('d');
    await ok(['keyset', 'add', '--private', 'jwks.json', key('oct')], { cwd: dir });
    expect(readSet(dir).keys[2]).toMatchObject({ kty: 'oct', kid: 'hmac', k: expect.any(String) });
  });

  it('refuses an oct key without --private (exit 9), standard input as the set (exit 2)', async () => {
    const dir = tempDir();
    await expectFailure(dir, ['keyset', 'add', 'jwks.json', key('oct')], 9, [
      /oct key, which has no public part/,
      /--private/,
    ]);
    await expectFailure(dir, ['keyset', 'add', '-', key('rsa')], 2, [/must be a file, not standard input/]);
  });

  it('a wrong password (exit 6) and a corrupt key file (exit 9) leave the set as it was', async () => {
    const dir = tempDir();
    await ok(['keyset', 'add', 'jwks.json', key('rsa')], { cwd: dir });
    writeFileSync(join(dir, 'wrong.txt'), 'wrong\n');
    await expectFailure(dir, ['keyset', 'add', '--password-file', 'wrong.txt', 'jwks.json', key('ec')], 6, [
      /wrong password/,
    ]);
    writeFileSync(join(dir, 'junk.json'), '{"kty":');
    await expectFailure(dir, ['keyset', 'add', 'jwks.json', 'junk.json'], 9, [/junk.json is not valid JSON/]);
  });

  it('a malformed set file is one line (exit 9) and nothing is written, no lock left behind', async () => {
    const dir = tempDir();
    for (const [content, message] of [
      ['{"keys": [', /jwks.json is not a valid JWK Set: it is not a JSON object/],
      ['{"keys": {}}', /no "keys" array/],
      [JSON.stringify(jwk('rsa')), /a single JWK, not a set/],
      ['{"keys":[{"kid":"x"}]}', /keys\[0\] has no "kty"/],
      ['', /the file is empty/],
    ] as const) {
      writeFileSync(join(dir, 'jwks.json'), content);
      await expectFailure(dir, ['keyset', 'add', 'jwks.json', key('rsa')], 9, [message]);
      await expectFailure(dir, ['keyset', 'remove', '--kid', 'x', 'jwks.json'], 9, [message]);
      await expectFailure(dir, ['keyset', 'list', 'jwks.json'], 9, [message]);
      await expectFailure(dir, ['keyset', 'find', '--kid', 'x', 'jwks.json'], 9, [message]);
    }
  });

  it('a directory as the set file: exit 8', async () => {
    const dir = tempDir();
    await expectFailure(dir, ['keyset', 'add', '.', key('rsa')], 8, [/is a directory/]);
  });
});

describe('keymint keyset: concurrent changes', () => {
  it('eight adds at once, from eight processes: all eight keys land, no lock or temp file left', async () => {
    const dir = tempDir();
    const names: string[] = [];
    for (let i = 0; i < 8; i++) names.push(jwkFile(dir, `k${i}.json`, nodeJwk('EC P-256', { kid: `k${i}` })));
    const results = await Promise.all(names.map((name) => keymint(['keyset', 'add', 'jwks.json', name], { cwd: dir })));
    for (const result of results) expectOk(result);
    expect(
      readSet(dir)
        .keys.map((k) => k.kid)
        .sort(),
    ).toEqual(names.map((n) => n.replace('.json', '')).sort());
    expect(listDir(dir)).toEqual(['jwks.json', ...names].sort());
  });

  it('adds and removes at once on an existing set: each change lands', async () => {
    const dir = tempDir();
    const start = Array.from({ length: 4 }, (_, i) => nodeJwk('Ed25519', { kid: `old${i}` }));
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: start.map(({ d: _d, ...p }) => p) }));
    const adds = Array.from({ length: 4 }, (_, i) =>
      jwkFile(dir, `new${i}.json`, nodeJwk('Ed25519', { kid: `new${i}` })),
    );
    const runs = [
      ...adds.map((name) => ['keyset', 'add', 'jwks.json', name]),
      ...start.map((k) => ['keyset', 'remove', '--kid', String(k.kid), 'jwks.json']),
    ];
    for (const result of await Promise.all(runs.map((args) => keymint(args, { cwd: dir })))) expectOk(result);
    expect(
      readSet(dir)
        .keys.map((k) => k.kid)
        .sort(),
    ).toEqual(['new0', 'new1', 'new2', 'new3']);
  });

  it('breaks a lock left by a process that is gone', async () => {
    const dir = tempDir();
    const child = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => child.on('exit', resolve));
    writeFileSync(
      join(dir, 'jwks.json.lock'),
      JSON.stringify({ pid: child.pid, host: hostname(), since: new Date().toISOString() }),
    );
    await ok(['keyset', 'add', 'jwks.json', key('rsa')], { cwd: dir });
    expect(listDir(dir)).toEqual(['jwks.json']);
  });

  it('waits for a live holder and goes on when it lets go', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'jwks.json.lock'),
      JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }),
    );
    const run = keymint(['keyset', 'add', 'jwks.json', key('rsa')], { cwd: dir });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(existsSync(join(dir, 'jwks.json')), 'nothing written while the lock is held').toBe(false);
    rmSync(join(dir, 'jwks.json.lock'));
    expectOk(await run);
    expect(readSet(dir).keys.map((k) => k.kid)).toEqual(['rsa-1']);
  });
});

describe('keymint keyset: locks judged without a clock', () => {
  it('a lock of a live process is never taken over, however old: the add waits for it', async () => {
    const dir = tempDir();
    const lock = lockFor(process.pid);
    writeFileSync(join(dir, 'jwks.json.lock'), lock);
    utimesSync(join(dir, 'jwks.json.lock'), new Date('2001-01-01'), new Date('2001-01-01'));
    const run = keymint(['keyset', 'add', 'jwks.json', key('rsa')], { cwd: dir });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(existsSync(join(dir, 'jwks.json')), 'nothing written while the lock is held').toBe(false);
    expect(readFileSync(join(dir, 'jwks.json.lock'), 'utf8'), 'the lock is left alone').toBe(lock);
    rmSync(join(dir, 'jwks.json.lock'));
    expectOk(await run);
    expect(readSet(dir).keys.map((k) => k.kid)).toEqual(['rsa-1']);
  });

  it('the lock of a reused pid (alive, but started at another time) is taken over: ten adds at once all land', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'jwks.json.lock'), lockFor(process.pid, { start: '1' }));
    const names = Array.from({ length: 10 }, (_, i) =>
      jwkFile(dir, `k${i}.json`, nodeJwk('EC P-256', { kid: `k${i}` })),
    );
    const results = await Promise.all(names.map((name) => keymint(['keyset', 'add', 'jwks.json', name], { cwd: dir })));
    for (const result of results) expectOk(result);
    expect(
      readSet(dir)
        .keys.map((k) => k.kid)
        .sort(),
    ).toEqual(names.map((n) => n.replace('.json', '')).sort());
    expect(listDir(dir)).toEqual(['jwks.json', ...names].sort());
  });
});

describe('keymint keyset: what the set file is', () => {
  it('a set that is a symbolic link is changed through it: the link stays a link, the file it points to gets the key', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'published'));
    writeFileSync(join(dir, 'published', 'jwks-2026.json'), JSON.stringify({ keys: [jwk('ec')] }));
    symlinkSync(join('published', 'jwks-2026.json'), join(dir, 'jwks.json'));
    await ok(['keyset', 'add', 'jwks.json', key('rsa')], { cwd: dir });
    await ok(['keyset', 'remove', '--kid', 'ec-1', 'jwks.json'], { cwd: dir });
    expect(lstatSync(join(dir, 'jwks.json')).isSymbolicLink(), 'still a link').toBe(true);
    expect(readlinkSync(join(dir, 'jwks.json'))).toBe(join('published', 'jwks-2026.json'));
    expect(readSet(dir, join('published', 'jwks-2026.json')).keys.map((k) => k.kid)).toEqual(['rsa-1']);
    expect(listDir(dir)).toEqual(['jwks.json', 'published']);
    expect(listDir(join(dir, 'published')), 'no lock or temp file beside the file either').toEqual(['jwks-2026.json']);
  });

  it.each([
    [
      'a dangling symbolic link',
      (dir: string) => symlinkSync('nowhere.json', join(dir, 'jwks.json')),
      /jwks\.json: is a symbolic link to a file that does not exist/,
    ],
    [
      'a FIFO',
      (dir: string) => runTool('mkfifo', [join(dir, 'jwks.json')]),
      /jwks\.json: is a FIFO \(named pipe\), not a regular file/,
    ],
    [
      'a link to a device',
      (dir: string) => symlinkSync('/dev/null', join(dir, 'jwks.json')),
      /jwks\.json: is a device, not a regular file/,
    ],
  ])(
    '%s as the set: exit 8 before anything is read or written (add, remove)',
    { timeout: 30_000 },
    async (_name, make, message) => {
      const dir = tempDir();
      make(dir);
      // Were a FIFO ever opened for reading, this would let the reader go instead of hanging the run.
      onTestFinished(() => {
        try {
          closeSync(openSync(join(dir, 'jwks.json'), fsConstants.O_WRONLY | fsConstants.O_NONBLOCK));
        } catch {
          // no reader: nothing to let go
        }
      });
      await expectFailure(dir, ['keyset', 'add', 'jwks.json', key('rsa')], 8, [message]);
      await expectFailure(dir, ['keyset', 'remove', '--kid', 'rsa-1', 'jwks.json'], 8, [message]);
    },
  );
});

describe('keymint keyset remove, list, find', () => {
  async function threeKeys(): Promise<string> {
    const dir = tempDir();
    for (const name of ['ec', 'rsa', 'ed']) await ok(['keyset', 'add', ...pw, 'jwks.json', key(name)], { cwd: dir });
    return dir;
  }

  it('remove --kid takes the key out; an unknown kid is exit 16 with nothing written', async () => {
    const dir = await threeKeys();
    const result = await ok(['keyset', 'remove', '--kid', 'rsa-1', 'jwks.json'], { cwd: dir });
    expect(result.stderr).toMatch(/Removed key "rsa-1" from jwks.json; it now holds 2 keys/);
    expect(readSet(dir).keys.map((k) => k.kid)).toEqual(['ec-1', jwk('ed').kid]);
    await expectFailure(dir, ['keyset', 'remove', '--kid', 'rsa-1', 'jwks.json'], 16, [
      /jwks.json has no key with kid "rsa-1"/,
    ]);
    await expectFailure(dir, ['keyset', 'remove', 'jwks.json'], 2, [/needs --kid/]);
    await expectFailure(dir, ['keyset', 'remove', '--kid', 'x', 'none.json'], 8, [/none.json: no such file/]);
  });

  it('list prints kid, kty, alg and use; --json the same as data; standard input works', async () => {
    const dir = await threeKeys();
    const result = await ok(['keyset', 'list', 'jwks.json'], { cwd: dir });
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^KID\s+KTY\s+ALG\s+USE$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/))).toEqual([
      ['ec-1', 'EC', 'ES256', 'sig'],
      ['rsa-1', 'RSA', 'RS256', 'sig'],
      [String(jwk('ed').kid), 'OKP', 'EdDSA', 'sig'],
    ]);
    const json = JSON.parse((await ok(['keyset', 'list', '--json', 'jwks.json'], { cwd: dir })).stdout) as unknown;
    expect(json).toEqual({
      keys: [
        { kid: 'ec-1', kty: 'EC', alg: 'ES256', use: 'sig' },
        { kid: 'rsa-1', kty: 'RSA', alg: 'RS256', use: 'sig' },
        { kid: jwk('ed').kid, kty: 'OKP', alg: 'EdDSA', use: 'sig' },
      ],
    });
    expect(
      (await ok(['keyset', 'list', '-'], { cwd: dir, input: readFileSync(join(dir, 'jwks.json'), 'utf8') })).stdout,
    ).toBe(result.stdout);
  });

  it('list of an empty set prints nothing and says so', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'jwks.json'), '{"keys":[]}');
    const result = await ok(['keyset', 'list', 'jwks.json'], { cwd: dir });
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/holds no keys/);
  });

  it('find --kid prints the key; an unknown kid is exit 16', async () => {
    const dir = await threeKeys();
    expect(JSON.parse((await ok(['keyset', 'find', '--kid', 'rsa-1', 'jwks.json'], { cwd: dir })).stdout)).toEqual(
      jwk('rsa'),
    );
    expect(
      JSON.parse(
        (
          await ok(['keyset', 'find', '--json', '--kid', 'ec-1', '-'], {
            cwd: dir,
            input: readFileSync(join(dir, 'jwks.json'), 'utf8'),
          })
        ).stdout,
      ),
    ).toEqual(jwk('ec'));
    await expectFailure(dir, ['keyset', 'find', '--kid', 'wrong-kid', 'jwks.json'], 16, [
      /has no key with kid "wrong-kid"/,
    ]);
  });
});
