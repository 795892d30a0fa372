import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { compactVerify, importJWK } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { SOFTHSM_MODULE, startSoftHsm } from '@keymint/test-kit';
import { expectFailure, keymint, readJson, tempDir, writeFile, type Jwk, type RunResult } from '../helpers.js';

/**
 * A key deleted from the token behind keymint's back (pkcs11-tool), then made again under the same
 * label and id: keymint sign with the old reference file exits 16 while the key is gone, and then
 * signs with the new key, never the old one.
 */
const TOKEN = 'e2e-deleted';
const softhsm = startSoftHsm([TOKEN], { setEnv: true });
afterAll(() => softhsm.remove());

function ok(result: RunResult): RunResult {
  expect(result.stderr, 'no stack trace').not.toMatch(/^\s+at /m);
  expect(result.code, `stderr: ${result.stderr}`).toBe(0);
  return result;
}

function tool(...args: string[]): void {
  const login = ['--module', SOFTHSM_MODULE, '--token-label', TOKEN, '--login', '--pin', softhsm.pin];
  const result = spawnSync('pkcs11-tool', [...login, ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`pkcs11-tool ${args.join(' ')}: ${result.stderr}`);
}

async function verifiesWith(jws: string, jwk: Jwk): Promise<boolean> {
  return compactVerify(jws.trim(), await importJWK(jwk, 'ES256')).then(
    () => true,
    () => false,
  );
}

describe('keymint sign with a key deleted and made again behind its back', () => {
  it('deleted: exit 16, one line; made again with the same label and id: signs with the new key', async () => {
    const dir = tempDir();
    writeFile(dir, 'payload.txt', 'which key?');
    const uri = softhsm.uri(TOKEN);
    ok(
      await keymint(
        ['create', '--backend', 'pkcs11', '--pkcs11-uri', uri, '--kid', 'again', 'key.pub.json', 'key.json'],
        { cwd: dir },
      ),
    );
    const old = readJson<Jwk>(join(dir, 'key.pub.json'));
    const sign = async () => ok(await keymint(['sign', '--key', 'key.json', 'payload.txt'], { cwd: dir })).stdout;
    expect(await verifiesWith(await sign(), old)).toBe(true);

    tool('--delete-object', '--type', 'privkey', '--label', 'again');
    tool('--delete-object', '--type', 'pubkey', '--label', 'again');
    const gone =
      /^keymint: token "e2e-deleted" \(serial [0-9a-f]+\) has no private or secret key with label "again" and id /;
    await expectFailure(dir, ['sign', '--key', 'key.json', 'payload.txt'], 16, [gone]);

    // keymint writes every byte of the id as %XX.
    const reference = readJson<{ location: { uri: string } }>(join(dir, 'key.json'));
    const id = (/;id=([^;?]+)/.exec(reference.location.uri)?.[1] ?? '').replace(/%/g, '');
    tool('--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'again', '--id', id, '--usage-sign');
    const listed = JSON.parse(
      ok(await keymint(['keys', 'list', '--backend', 'pkcs11', '--pkcs11-uri', uri, '--json'], { cwd: dir })).stdout,
    ) as {
      keys: Array<{ details: { label: string; type: string; publicJwk: Jwk } }>;
    };
    const fresh = listed.keys.find((k) => k.details.label === 'again' && k.details.type === 'private')?.details
      .publicJwk as Jwk;
    const jws = await sign();
    expect(await verifiesWith(jws, fresh)).toBe(true);
    expect(await verifiesWith(jws, old)).toBe(false);
  });
});
