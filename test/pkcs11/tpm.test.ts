import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, startSoftwareTpm, stopSoftwareTpm, type SoftwareTpm } from '@keymint/test-kit';
import { expectFailure, keymint, listDir, readJson, rfc7638, tempDir, writeFile, type Jwk } from '../helpers.js';

/**
 * The README's software TPM, driven the way the README tells a user to: scripts/software-tpm.sh
 * starts swtpm, a private dbus-daemon and tpm2-abrmd, and makes a tpm2-pkcs11 token; then the
 * built CLI creates, lists and signs with keys on it.
 */

const LABEL = 'e2e-tpm';
const PIN = '314159';
let tpm: SoftwareTpm | undefined;
let env: Record<string, string> = {};
let uri = '';

beforeAll(() => {
  tpm = startSoftwareTpm({ label: LABEL, pin: PIN, soPin: '27182818' });
  env = { ...tpm.env, KEYMINT_PKCS11_PIN: PIN };
  uri = tpm.uri;
});
afterAll(() => {
  if (tpm !== undefined) stopSoftwareTpm(tpm);
});

describe('keymint with a software TPM (swtpm + tpm2-abrmd + tpm2-pkcs11)', () => {
  it('pkcs11 tokens shows the TPM token and what it can make', async () => {
    const result = await keymint(['pkcs11', 'tokens', '--pkcs11-module', env.KEYMINT_TPM_MODULE as string], {
      cwd: tempDir(),
      env,
    });
    expectOk(result);
    expect(result.stdout).toMatch(
      new RegExp(`^Slot \\d+: token "${LABEL}" \\(serial 0+, IBM SW {3}TPM\\), login required$`, 'm'),
    );
    expect(result.stdout).toContain('keys: RSA 1024-3072: RS256');
    expect(result.stdout).toContain('EC P-256: ES256');
    expect(result.stdout).not.toContain('Ed25519');
  });

  it.each([
    ['EC P-256', ['--kty', 'EC', '--crv', 'P-256'], 'ES256'],
    ['RSA 2048', ['--kty', 'RSA', '--size', '2048'], 'RS256'],
  ])('%s: create, list, sign with the reference, verify', async (name, flags, alg) => {
    const cwd = tempDir();
    expectOk(
      await keymint(['create', '--backend', 'pkcs11', '--pkcs11-uri', uri, ...flags, 'k.pub.json', 'k.json'], {
        cwd,
        env,
      }),
    );
    const pub = readJson<Jwk>(join(cwd, 'k.pub.json'));
    expect(pub).toMatchObject({ kty: name.split(' ')[0], alg, kid: rfc7638(pub) });
    const ref = readJson<{ backend: string; location: { uri: string } }>(join(cwd, 'k.json'));
    expect(ref.backend).toBe('pkcs11');
    expect(ref.location.uri).toContain(`token=${LABEL};`);
    expect(ref.location.uri).not.toContain(PIN);

    const listed = await keymint(['pkcs11', 'keys', '--json', '--pkcs11-uri', uri], { cwd, env });
    expectOk(listed);
    const keys = (
      JSON.parse(listed.stdout) as {
        keys: Array<{ kid: string; details: { uri: string; sensitive: boolean; extractable: boolean } }>;
      }
    ).keys;
    expect(keys.find((k) => k.kid === pub.kid)?.details).toMatchObject({
      uri: ref.location.uri,
      sensitive: true,
      extractable: false,
    });

    writeFile(cwd, 'payload.txt', `signed in the TPM with ${alg}`);
    const signed = await keymint(['sign', '--key', 'k.json', 'payload.txt'], { cwd, env });
    expectOk(signed);
    writeFile(cwd, 'p.jws', signed.stdout.trim());
    const verified = await keymint(['verify', '--key', 'k.pub.json', 'p.jws'], { cwd, env });
    expectOk(verified);
    expect(verified.stdout).toContain(`signed in the TPM with ${alg}`);
  });

  it.each([
    ['Ed25519', ['--kty', 'OKP', '--crv', 'Ed25519'], 'OKP Ed25519 EdDSA'],
    ['RSA 4096', ['--kty', 'RSA', '--size', '4096'], 'RSA 4096 RS256'],
    ['P-521', ['--kty', 'EC', '--crv', 'P-521'], 'EC P-521 ES512'],
  ])('refuses %s: exit 4, naming the token, nothing written', async (_name, flags, described) => {
    const cwd = tempDir();
    await expectFailure(
      cwd,
      ['create', '--backend', 'pkcs11', '--pkcs11-uri', uri, ...flags, 'k.pub.json', 'k.json'],
      4,
      [
        new RegExp(
          `^keymint: ${described} keys are not supported by token "${LABEL}" \\(serial 0+\\): it can make RSA 1024-3072, EC P-256, EC P-384\\n$`,
        ),
      ],
      { env },
    );
    expect(listDir(cwd)).toEqual([]);
  });

  it('keys list and delete work on the TPM token: a deleted key is gone and its reference signs no more', async () => {
    const cwd = tempDir();
    expectOk(
      await keymint(
        [
          'create',
          '--backend',
          'pkcs11',
          '--pkcs11-uri',
          uri,
          '--kty',
          'EC',
          '--kid',
          'tpm-gone',
          'g.pub.json',
          'g.json',
        ],
        { cwd, env },
      ),
    );
    const before = JSON.parse(
      (await keymint(['keys', 'list', '--backend', 'pkcs11', '--pkcs11-uri', uri, '--json'], { cwd, env })).stdout,
    ) as { keys: Array<{ details: { label: string } }> };
    expect(before.keys.some((k) => k.details.label === 'tpm-gone')).toBe(true);
    const deleted = await keymint(['keys', 'delete', '--backend', 'pkcs11', '--force', 'g.json'], { cwd, env });
    expectOk(deleted);
    expect(deleted.stderr).toContain(`(label "tpm-gone"`);
    const after = JSON.parse(
      (await keymint(['keys', 'list', '--backend', 'pkcs11', '--pkcs11-uri', uri, '--json'], { cwd, env })).stdout,
    ) as { keys: Array<{ details: { label: string } }> };
    expect(after.keys.some((k) => k.details.label === 'tpm-gone')).toBe(false);
    expect(after.keys.length).toBe(before.keys.length - 1);
    writeFile(cwd, 'payload.txt', 'after the delete');
    await expectFailure(
      cwd,
      ['sign', '--key', 'g.json', 'payload.txt'],
      16,
      [/has no private or secret key with label "tpm-gone"/],
      { env },
    );
  });
});
