import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectOk } from '@keymint/test-kit';
import {
  FAST,
  PASSWORD,
  keymint,
  listDir,
  modeOf,
  passwordFile,
  readJson,
  tempDir,
  writeFile,
  type Jwk,
} from '../helpers.js';
import { jwkFile, nodeJwk } from '../toolbox/helpers.js';
import { expectValidPair } from './support.js';

/**
 * Many keymint processes at once on one directory or one JWK Set. test/toolbox/keyset.test.ts
 * has eight concurrent adds, adds with removes, and the lock's take-over rules; these go further:
 * sixteen creates, twenty adds to a set with other members, and races for the same name or kid.
 */

const KINDS: { flags: string[]; kty: string }[] = [
  { flags: [], kty: 'EC' },
  { flags: ['--kty', 'OKP', '--crv', 'Ed25519'], kty: 'OKP' },
  { flags: ['--kty', 'RSA', '--size', '2048'], kty: 'RSA' },
  { flags: ['--kty', 'EC', '--crv', 'P-384'], kty: 'EC' },
];

describe('concurrent keymint create', () => {
  it('sixteen creates at once into one directory, with different names: all succeed and each pair is whole', async () => {
    const dir = tempDir();
    passwordFile(dir);
    const runs = Array.from({ length: 16 }, (_, i) => ({ i, kind: KINDS[i % KINDS.length] as (typeof KINDS)[number] }));
    const results = await Promise.all(
      runs.map(({ i, kind }) =>
        keymint(
          ['create', '--password-file', 'pass.txt', ...FAST, ...kind.flags, '--json', `k${i}.pub.json`, `k${i}.json`],
          { cwd: dir },
        ),
      ),
    );
    const kids = new Set<string>();
    for (const [i, result] of results.entries()) {
      expectOk(result);
      const pair = await expectValidPair(dir, `k${i}.pub.json`, `k${i}.json`, PASSWORD, {
        kty: (runs[i] as (typeof runs)[number]).kind.kty,
        p2c: 1000,
      });
      expect((JSON.parse(result.stdout) as { kid: string }).kid, `run ${i} reports the kid it wrote`).toBe(
        pair.publicJwk.kid,
      );
      kids.add(pair.publicJwk.kid as string);
    }
    expect(kids.size, 'sixteen different keys').toBe(16);
    const expected = ['pass.txt', ...runs.flatMap(({ i }) => [`k${i}.pub.json`, `k${i}.json`])].sort();
    expect(listDir(dir), 'no temp file, nothing else').toEqual(expected);
  });

  it('eight creates at once of the same names without --force: one wins, the others exit 7, and the pair on disk is the winner', async () => {
    const dir = tempDir();
    passwordFile(dir);
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        keymint(['create', '--password-file', 'pass.txt', ...FAST, '--json', 'k.pub.json', 'k.json'], { cwd: dir }),
      ),
    );
    const winners = results.filter((r) => r.code === 0);
    expect(winners, results.map((r) => `${String(r.code)} ${r.stdout}${r.stderr}`).join('\n')).toHaveLength(1);
    for (const loser of results.filter((r) => r.code !== 0)) {
      expect(loser.code).toBe(7);
      expect((JSON.parse(loser.stdout) as { error: { code: string } }).error.code).toBe('ERR_FILE_EXISTS');
    }
    const pair = await expectValidPair(dir, 'k.pub.json', 'k.json', PASSWORD, { kty: 'EC', p2c: 1000 });
    expect(pair.publicJwk.kid).toBe((JSON.parse((winners[0] as { stdout: string }).stdout) as { kid: string }).kid);
    expect(listDir(dir)).toEqual(['k.json', 'k.pub.json', 'pass.txt']);
  });
});

interface JwkSetFile {
  keys: Jwk[];
  [member: string]: unknown;
}

describe('concurrent keymint keyset add', () => {
  it('twenty adds at once into one set: every kid lands, the old keys and the members other than keys are kept', async () => {
    const dir = tempDir();
    passwordFile(dir);
    const start = [nodeJwk('Ed25519', { kid: 'old-0' }), nodeJwk('EC P-256', { kid: 'old-1' })].map(
      ({ d: _d, ...pub }) => pub,
    );
    const members = {
      'x-issuer': 'https://issuer.example',
      'x-meta': { rotated: '2026-01-01', tags: ['a', 'b'] },
      comment: 'kept as it is',
    };
    writeFile(dir, 'jwks.json', JSON.stringify({ ...members, keys: start }, null, 2), 0o644);

    // Twelve public JWKs, four plain private JWKs, four keys encrypted by keymint (read with the password).
    const inputs: { args: string[]; kid: string }[] = [];
    for (let i = 0; i < 12; i++)
      inputs.push({
        args: [jwkFile(dir, `p${i}.json`, nodeJwk(i % 2 ? 'EC P-256' : 'Ed25519', { kid: `pub-${i}` }))],
        kid: `pub-${i}`,
      });
    for (let i = 0; i < 4; i++)
      inputs.push({
        args: [jwkFile(dir, `s${i}.json`, nodeJwk('EC P-384', { kid: `plain-${i}` }))],
        kid: `plain-${i}`,
      });
    for (let i = 0; i < 4; i++) {
      expectOk(
        await keymint(
          ['create', '--password-file', 'pass.txt', ...FAST, '--kid', `enc-${i}`, `e${i}.pub.json`, `e${i}.json`],
          { cwd: dir },
        ),
      );
      inputs.push({ args: ['--password-file', 'pass.txt', `e${i}.json`], kid: `enc-${i}` });
    }
    const before = listDir(dir);

    const results = await Promise.all(
      inputs.map(({ args }) => keymint(['keyset', 'add', 'jwks.json', ...args], { cwd: dir })),
    );
    for (const result of results) expectOk(result);

    const text = readFileSync(join(dir, 'jwks.json'), 'utf8');
    const set = JSON.parse(text) as JwkSetFile;
    expect(set.keys.map((k) => k.kid).sort()).toEqual(['old-0', 'old-1', ...inputs.map((i) => i.kid)].sort());
    for (const key of set.keys) expect(key, `${String(key.kid)} is public`).not.toHaveProperty('d');
    expect(set.keys.slice(0, 2), 'the keys that were there stay as they were').toEqual(start);
    const { keys: _keys, ...rest } = set;
    expect(rest, 'members other than keys are kept').toEqual(members);
    expect(modeOf(join(dir, 'jwks.json')), 'the set keeps its mode').toBe(0o644);
    expect(listDir(dir), 'no lock or temp file left').toEqual(before);
    expect(readJson(join(dir, 'jwks.json'))).toEqual(set);
  });

  it('ten adds at once of keys with the same kid: one lands, the other nine exit 15, and the set holds the winner', async () => {
    const dir = tempDir();
    const keys = Array.from({ length: 10 }, (_, i) => ({ i, jwk: nodeJwk('EC P-256', { kid: 'same' }) }));
    for (const { i, jwk } of keys) jwkFile(dir, `k${i}.json`, jwk);
    const results = await Promise.all(
      keys.map(({ i }) => keymint(['keyset', 'add', 'jwks.json', `k${i}.json`], { cwd: dir })),
    );
    const winners = results.flatMap((result, i) => (result.code === 0 ? [i] : []));
    expect(winners, results.map((r) => `${String(r.code)} ${r.stderr}`).join('\n')).toHaveLength(1);
    for (const result of results.filter((r) => r.code !== 0)) expect(result.code, result.stderr).toBe(15);
    const set = readJson<JwkSetFile>(join(dir, 'jwks.json'));
    expect(set.keys).toHaveLength(1);
    expect(set.keys[0]?.x).toBe(keys[winners[0] as number]?.jwk.x);
    expect(listDir(dir)).toEqual(['jwks.json', ...keys.map(({ i }) => `k${i}.json`)].sort());
  });
});
