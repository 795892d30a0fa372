import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectFailure, keymint, readJson, rfc7638, tempDir, writeFile, type Jwk, type RunResult } from '../helpers.js';
import { startSoftHsm } from '@keymint/test-kit';

/**
 * keymint keys list|delete|describe --backend pkcs11 on a SoftHSM2 token, each result checked
 * with pkcs11-tool (OpenSC), which counts what is really on the token.
 */
const TOKEN = 'e2e-keys';
const softhsm = startSoftHsm([TOKEN], { setEnv: true });
afterAll(() => softhsm.remove());

function ok(result: RunResult): RunResult {
  expect(result.stderr, 'no stack trace').not.toMatch(/^\s+at /m);
  expect(result.code, `stderr: ${result.stderr}`).toBe(0);
  return result;
}

interface Listed {
  backend: string;
  keys: Array<{ id: string; kid: string | null; details: { label: string | null; type: string } }>;
}

describe('keymint keys --backend pkcs11', () => {
  it('lists the keys, deletes one by its reference file and one by the id list gives, both halves of each', async () => {
    const dir = tempDir();
    const uri = softhsm.uri(TOKEN);
    for (const name of ['a', 'b']) {
      ok(
        await keymint(
          [
            'create',
            '--backend',
            'pkcs11',
            '--pkcs11-uri',
            uri,
            '--kid',
            `del-${name}`,
            `${name}.pub.json`,
            `${name}.json`,
          ],
          { cwd: dir },
        ),
      );
    }
    expect(softhsm.objects(TOKEN)).toBe(4);
    const listed = JSON.parse(
      ok(await keymint(['keys', 'list', '--backend', 'pkcs11', '--pkcs11-uri', uri, '--json'], { cwd: dir })).stdout,
    ) as Listed;
    const pubA = readJson<Jwk>(join(dir, 'a.pub.json'));
    expect(listed.keys.map((k) => k.details.label).sort()).toEqual(['del-a', 'del-b']);
    expect(listed.keys.find((k) => k.details.label === 'del-a')?.kid).toBe(rfc7638(pubA));

    // Without a terminal, delete needs --force and deletes nothing.
    await expectFailure(dir, ['keys', 'delete', '--backend', 'pkcs11', 'a.json'], 2, [
      /needs confirmation and there is no terminal to ask on; give --force/,
    ]);
    expect(softhsm.objects(TOKEN)).toBe(4);

    const byFile = ok(await keymint(['keys', 'delete', '--backend', 'pkcs11', '--force', 'a.json'], { cwd: dir }));
    expect(byFile.stderr).toContain(`Deleted the EC P-256 key ${rfc7638(pubA)} (label "del-a", id `);
    expect(byFile.stderr).toContain('a.json now refers to a key that is gone');
    expect(softhsm.objects(TOKEN)).toBe(2);
    writeFile(dir, 'payload.txt', 'after the delete');
    await expectFailure(dir, ['sign', '--key', 'a.json', 'payload.txt'], 16, [
      /has no private or secret key with label "del-a"/,
    ]);
    await expectFailure(dir, ['keys', 'delete', '--backend', 'pkcs11', '--force', 'a.json'], 16, [
      /has no private or secret key with label "del-a"/,
    ]);

    const id = listed.keys.find((k) => k.details.label === 'del-b')?.id as string;
    const byId = JSON.parse(
      ok(await keymint(['keys', 'delete', '--backend', 'pkcs11', '--force', '--json', id], { cwd: dir })).stdout,
    ) as { deleted: boolean };
    expect(byId).toMatchObject({
      deleted: true,
      outcome: 'deleted',
      backend: 'pkcs11',
      key: { details: { label: 'del-b', type: 'private' } },
      reference: null,
    });
    expect(softhsm.objects(TOKEN)).toBe(0);
    const empty = ok(await keymint(['keys', 'list', '--backend', 'pkcs11', '--pkcs11-uri', uri], { cwd: dir }));
    expect(empty.stderr).toMatch(new RegExp(`^No keys on token "${TOKEN}" \\(serial [0-9a-f]+\\)\\.\\n$`));
    expect(empty.stdout).toBe('');
  });

  it('describe shows the module and the token; a reference of another backend is refused', async () => {
    const dir = tempDir();
    const described = ok(
      await keymint(['keys', 'describe', '--backend', 'pkcs11', '--pkcs11-module', '/usr/lib/softhsm/libsofthsm2.so'], {
        cwd: dir,
      }),
    );
    expect(described.stderr).toMatch(/^Module \/usr\/lib\/softhsm\/libsofthsm2\.so: SoftHSM/);
    expect(described.stdout).toContain(`token "${TOKEN}"`);
    writeFile(
      dir,
      'kc.json',
      JSON.stringify({
        type: 'keymint-key-reference',
        version: 1,
        backend: 'keychain',
        location: { service: 's', account: 'a' },
        jwk: { kty: 'oct', kid: 'x' },
      }),
    );
    await expectFailure(dir, ['keys', 'delete', '--backend', 'pkcs11', '--force', 'kc.json'], 9, [
      /kc\.json refers to a key in the keychain backend, not in the pkcs11 backend/,
    ]);
    await expectFailure(dir, ['keys', 'list', '--backend', 'nope'], 2, [
      /--backend "nope" is not a backend installed here/,
      /npm install --global @keymint\/backend-nope/,
    ]);
    await expectFailure(dir, ['keys', 'list', '--backend', 'software'], 4, [
      /the software backend does not list keys; its keys are files: look at them directly/,
    ]);
  });
});
