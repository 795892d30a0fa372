import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { newKeyPair, type TestKeyOptions, type TestKeyType } from '../src/keys.js';

const KINDS: Array<[TestKeyType, TestKeyOptions, Record<string, string>]> = [
  ['ec', { namedCurve: 'prime256v1' }, { kty: 'EC', crv: 'P-256' }],
  ['ec', { namedCurve: 'secp521r1' }, { kty: 'EC', crv: 'P-521' }],
  ['rsa', { modulusLength: 2048 }, { kty: 'RSA', e: 'AQAB' }],
  ['ed25519', {}, { kty: 'OKP', crv: 'Ed25519' }],
  ['x448', {}, { kty: 'OKP', crv: 'X448' }],
];

describe('newKeyPair', () => {
  it.each(KINDS)('%s %o: JWKs and KeyObjects of one new key', (type, options, members) => {
    const pair = newKeyPair(type, options);
    expect(pair.publicJwk).toMatchObject(members);
    expect(pair.privateJwk).toMatchObject({ ...pair.publicJwk, d: expect.any(String) });
    expect(pair.publicKey.export({ format: 'jwk' })).toEqual(pair.publicJwk);
    expect(pair.privateKey.export({ format: 'jwk' })).toEqual(pair.privateJwk);
    expect(newKeyPair(type, options).publicJwk).not.toEqual(pair.publicJwk);
  });

  it('20,000 pairs, each KeyObject exported to JWK, finish (generateKeyPairSync then export hangs Node 20 within a few thousand)', () => {
    const keys = join(dirname(fileURLToPath(import.meta.url)), '../dist/keys.js');
    const script = `import(${JSON.stringify(keys)}).then(({ newKeyPair }) => {
      for (let i = 0; i < 20000; i++) {
        const pair = newKeyPair('ec', { namedCurve: 'prime256v1' });
        pair.publicKey.export({ format: 'jwk' });
        pair.privateKey.export({ format: 'jwk' });
      }
      console.log('done');
    })`;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 50_000 });
    expect(run.signal, 'the loop hung and was killed').toBeNull();
    expect(run.stdout).toBe('done\n');
  }, 60_000);
});
