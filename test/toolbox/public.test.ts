import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectFailure, keymint, privateMembersIn, type Jwk } from '../helpers.js';
import { PASS_FILE, corruptJwe, createKey, jwkFile, ok, sharedDir, type KeyPairFiles } from './helpers.js';

const dir = sharedDir();
const pw = ['--password-file', PASS_FILE];
const keys: Record<string, KeyPairFiles> = {};

beforeAll(async () => {
  keys.ec = await createKey(dir, 'ec', []);
  keys.rsa = await createKey(dir, 'rsa', ['--kty', 'RSA'], { plain: true });
  keys.ed = await createKey(dir, 'ed', ['--kty', 'OKP', '--crv', 'Ed448'], { plain: true });
  keys.oct = await createKey(dir, 'oct', ['--kty', 'oct', '--kid', 'hmac'], { plain: true });
});

const read = (name: string) => readFileSync(join(dir, name), 'utf8');

describe('keymint public', () => {
  it('prints the public JWK of an encrypted private key: the public file, member for member', async () => {
    const result = await ok(['public', ...pw, 'ec.json'], { cwd: dir });
    expect(result.stdout).toBe(read('ec.pub.json'));
    expect(privateMembersIn(JSON.parse(result.stdout) as Jwk)).toEqual([]);
    expect(result.stderr).toBe('');
  });

  it('of a plain private key, of a public key, from standard input', async () => {
    expect((await ok(['public', 'rsa.json'], { cwd: dir })).stdout).toBe(read('rsa.pub.json'));
    expect((await ok(['public', 'ed.pub.json'], { cwd: dir })).stdout).toBe(read('ed.pub.json'));
    for (const args of [['-'], []])
      expect((await ok(['public', ...args], { cwd: dir, input: read('ed.json') })).stdout).toBe(read('ed.pub.json'));
  });

  it('of a JWK Set: the set of public keys, other members kept; --json prints the same JSON', async () => {
    const set = { issuer: 'https://as.example', keys: [JSON.parse(read('rsa.json')), JSON.parse(read('ed.json'))] };
    jwkFile(dir, 'private-set.json', set);
    const result = await ok(['public', 'private-set.json'], { cwd: dir });
    const out = JSON.parse(result.stdout) as { issuer: string; keys: Jwk[] };
    expect(out).toEqual({
      issuer: 'https://as.example',
      keys: [JSON.parse(read('rsa.pub.json')), JSON.parse(read('ed.pub.json'))],
    });
    expect(JSON.parse((await ok(['public', '--json', 'private-set.json'], { cwd: dir })).stdout)).toEqual(out);
  });

  it('refuses an oct key (its only form is the secret) unless --subtle, which prints the secret and says so', async () => {
    await expectFailure(dir, ['public', 'oct.json'], 9, [/oct key, which has no public part/, /--subtle/]);
    const result = await ok(['public', '--subtle', 'oct.json'], { cwd: dir });
    expect(JSON.parse(result.stdout)).toEqual(JSON.parse(read('oct.json')));
    expect(result.stderr).toMatch(/secret key itself/);
  });
});

describe('keymint public: bad inputs', () => {
  it('a wrong password: exit 6; no password and no terminal: exit 2', async () => {
    writeFileSync(join(dir, 'wrong.txt'), 'not it\n');
    await expectFailure(dir, ['public', '--password-file', 'wrong.txt', 'ec.json'], 6, [/wrong password/]);
    await expectFailure(dir, ['public', 'ec.json'], 2, [/password is needed to decrypt ec.json/]);
  });

  it('a corrupt JWE: exit 6 for altered ciphertext, exit 9 for a broken structure', async () => {
    writeFileSync(join(dir, 'altered.json'), corruptJwe(read('ec.json')));
    await expectFailure(dir, ['public', ...pw, 'altered.json'], 6, [/could not be decrypted/]);
    writeFileSync(join(dir, 'broken.json'), read('ec.json').replace('"protected": "', '"protected": "!!'));
    await expectFailure(dir, ['public', ...pw, 'broken.json'], 9, [/JWE/]);
  });

  it('not a key: exit 9; empty standard input: exit 9; a missing file or a directory: exit 8', async () => {
    writeFileSync(join(dir, 'junk.json'), '{"hello": 1}');
    await expectFailure(dir, ['public', 'junk.json'], 9, [/junk.json is not a key file/]);
    await expectFailure(dir, ['public', '-'], 9, [/standard input is empty/], { input: '' });
    await expectFailure(dir, ['public', 'missing.json'], 8, [/missing.json: no such file/]);
    await expectFailure(dir, ['public', '.'], 8, [/is a directory/]);
  });

  it('an unknown flag: exit 2', async () => {
    const result = await keymint(['public', '--nope', 'ec.pub.json'], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^keymint: unknown option '--nope'/);
  });
});
