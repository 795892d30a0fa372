import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectFailure, readJson, tempDir } from '../helpers.js';
import { startSoftHsm, startSoftwareTpm, stopSoftwareTpm, type SoftwareTpm } from '@keymint/test-kit';
import { ok, sharedDir } from '../toolbox/helpers.js';
import {
  algCases,
  caseName,
  joseEncrypt,
  joseHas,
  jwcrypto,
  keymintDecrypt,
  readKey,
  type AlgCase,
} from './support.js';

/**
 * Issue 13, interop with keys that never leave their token: JWEs made by jwcrypto and by jose to
 * keys made with `keymint create --backend pkcs11 --use enc` are decrypted by `keymint decrypt`
 * with the key reference, the private-key step on the token: on SoftHSM2 every RSA algorithm and
 * ECDH-ES (+A128/192/256KW) on P-256, P-384 and P-521 (SoftHSM has no X25519 or X448); on the
 * software TPM the RSA algorithms (tpm2-pkcs11 has no CKM_ECDH1_DERIVE, and says so).
 */

const payload = (c: AlgCase, by: string) => `${by} to a token key: ${caseName(c)}`;
const subtle = (c: AlgCase) => (c.alg === 'RSA1_5' ? ['--subtle'] : []);

function tokenCases(label: string, uri: () => string, cases: AlgCase[], env: () => Record<string, string>): void {
  const dir = sharedDir();
  const names = new Map<AlgCase, string>();
  beforeAll(async () => {
    for (const [i, c] of cases.entries()) {
      names.set(c, `t${i}`);
      await ok(['create', '--backend', 'pkcs11', '--pkcs11-uri', uri(), ...c.flags, `t${i}.pub.json`, `t${i}.json`], {
        cwd: dir,
        env: env(),
      });
    }
  }, 300_000);
  const key = (c: AlgCase) => names.get(c) as string;

  it.each(cases.map((c) => [caseName(c), c] as const))(
    `${label}, %s: jwcrypto encrypts, keymint decrypts on the token`,
    async (_name, c) => {
      expect(readJson(`${dir}/${key(c)}.json`)).toMatchObject({ type: 'keymint-key-reference', backend: 'pkcs11' });
      const jwe = jwcrypto(['encrypt', c.alg, c.enc, `${key(c)}.pub.json`], payload(c, 'jwcrypto'), dir).toString(
        'utf8',
      );
      expect(await keymintDecrypt(`${key(c)}.json`, jwe, { cwd: dir, env: env() }, subtle(c))).toBe(
        payload(c, 'jwcrypto'),
      );
    },
  );

  it.each(cases.filter(joseHas).map((c) => [caseName(c), c] as const))(
    `${label}, %s: jose encrypts, keymint decrypts on the token`,
    async (_name, c) => {
      const jwe = await joseEncrypt(readKey(dir, `${key(c)}.pub.json`), c.alg, c.enc, payload(c, 'jose'));
      expect(await keymintDecrypt(`${key(c)}.json`, jwe, { cwd: dir, env: env() })).toBe(payload(c, 'jose'));
    },
  );
}

describe('SoftHSM2', () => {
  const softhsm = startSoftHsm(['e2e-jwe']);
  afterAll(() => softhsm.remove());
  tokenCases(
    'SoftHSM2',
    () => softhsm.uri('e2e-jwe'),
    algCases(['P-256', 'P-384', 'P-521'], false),
    () => ({ SOFTHSM2_CONF: softhsm.conf }),
  );
});

describe('the software TPM (tpm2-pkcs11)', () => {
  let tpm: SoftwareTpm;
  const env = () => ({ ...tpm.env, KEYMINT_PKCS11_PIN: tpm.token.pin });
  const uri = () => `pkcs11:token=${tpm.token.label}?module-path=${tpm.module}`;
  beforeAll(async () => {
    tpm = startSoftwareTpm({ label: 'e2e-jwe-tpm' });
  }, 120_000);
  afterAll(async () => {
    stopSoftwareTpm(tpm);
  });
  tokenCases('TPM', uri, algCases([], false), env);

  it('TPM: an EC key for ECDH is refused before anything is made, naming the token', async () => {
    await expectFailure(
      tempDir(),
      ['create', '--backend', 'pkcs11', '--pkcs11-uri', uri(), '--kty', 'EC', '--use', 'enc', 'e.pub.json', 'e.json'],
      4,
      [/EC P-256 ECDH-ES keys are not supported by token "e2e-jwe-tpm"/],
      { env: env() },
    );
  });
});
