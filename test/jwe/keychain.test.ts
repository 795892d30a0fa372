import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJson } from '../helpers.js';
import { startKeyringSession, type KeyringSession } from '@keymint/test-kit';
import { uniqueService } from '../keychain/session.js';
import { ok, sharedDir } from '../toolbox/helpers.js';
import { jwcrypto } from './support.js';

/**
 * keymint decrypt with a key kept in the OS keychain (a real GNOME Keyring on a private D-Bus):
 * the reference file names the entry, and the key decrypts in the keymint process.
 */

const dir = sharedDir();
const service = uniqueService('jwe');
let keyring: KeyringSession;

beforeAll(async () => {
  keyring = await startKeyringSession();
}, 120_000);
afterAll(async () => {
  await keyring?.stop();
});

describe('keymint decrypt with a keychain key', () => {
  it.each([
    ['X25519, ECDH-ES+A256KW', ['--kty', 'OKP', '--crv', 'X25519', '--alg', 'ECDH-ES+A256KW'], 'A128GCM'],
    ['RSA, RSA-OAEP-256', ['--kty', 'RSA'], 'A256CBC-HS512'],
  ])('%s: a JWE made by jwcrypto decrypts with the reference alone', async (name, flags, enc) => {
    const file = name.split(',')[0] as string;
    const env = { ...keyring.env };
    await ok(
      [
        'create',
        '--backend',
        'keychain',
        '--keychain-service',
        service,
        '--use',
        'enc',
        ...flags,
        `${file}.pub.json`,
        `${file}.json`,
      ],
      { cwd: dir, env },
    );
    const reference = readJson<{ backend: string; jwk: { alg: string } }>(`${dir}/${file}.json`);
    expect(reference.backend).toBe('keychain');
    const jwe = jwcrypto(
      ['encrypt', reference.jwk.alg, enc, `${file}.pub.json`],
      `kept in the keychain: ${name}`,
      dir,
    ).toString();
    const result = await ok(['decrypt', '--key', `${file}.json`, '-'], { cwd: dir, env, input: jwe });
    expect(result.stdout).toBe(`kept in the keychain: ${name}`);
  });
});
