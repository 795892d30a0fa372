import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { rejection, useSoftHsm } from '@keymint/test-kit';
import { type KeymintError, createKey, type NewKey, type PrivatePart } from '@keymint/core';
import { pkcs11Backend } from '../src/index.js';
import { MAX_SESSIONS } from '../src/token-pool.js';
import { SOFTHSM_TOKENS } from './fixtures/softhsm-tokens.js';
import { expectSignsAndVerifies, referenceUri } from './fixtures/sign-check.js';

/**
 * A backend reaches a token through a pool of sessions: concurrent operations run on separate
 * sessions (so that a token signing in several threads gets several signatures at once), one at a
 * time keeps to one, and the token is logged in to once. Watched through OpenSC's pkcs11-spy.
 */
const softhsm = useSoftHsm();
const TOKEN = SOFTHSM_TOKENS.pool;
const PIN = softhsm.pin;
const SPY = '/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so';
const log = join(softhsm.dir, 'spy-pool.log');

/** C_* calls logged by pkcs11-spy since the log was emptied. */
function calls(name: string): number {
  return (readFileSync(log, 'utf8').match(new RegExp(`^\\d+: ${name}$`, 'gm')) ?? []).length;
}

/**
 * A key's reference with the spy as its module, so that what a signer asks of the token is logged,
 * and without its pin-source, so that the signer's `pin` is the PIN.
 */
function throughSpy(key: NewKey): PrivatePart {
  const uri = referenceUri(key.private)
    .replace(/module-path=[^&]*/, `module-path=${SPY}`)
    .replace(/&pin-source=[^&]*/, '');
  return { kind: 'reference', reference: { backend: 'pkcs11', location: { uri } } };
}

describe('the session pool on SoftHSM2', () => {
  let ec: NewKey;
  let rsa: NewKey;
  beforeAll(async () => {
    process.env.PKCS11SPY = softhsm.module;
    process.env.PKCS11SPY_OUTPUT = log;
    // Closed before the spy loads SoftHSM in this process: they share its C_Initialize and login.
    const maker = await pkcs11Backend({ uri: softhsm.uri(TOKEN) });
    try {
      ec = await createKey(maker, { kty: 'EC', crv: 'P-256', alg: 'ES256' });
      rsa = await createKey(maker, { kty: 'RSA', size: 2048, alg: 'RS256' });
    } finally {
      await maker.close();
    }
  });

  it(`one signature at a time keeps to one session; 8 at once open more, at most ${MAX_SESSIONS}, with one login; every signature verifies`, async () => {
    writeFileSync(log, '');
    const signer = await pkcs11Backend({ pin: PIN });
    try {
      for (let i = 0; i < 10; i++) await expectSignsAndVerifies(signer, { ...ec, private: throughSpy(ec) }, 'ES256');
      expect(calls('C_OpenSession')).toBe(1);
      await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          i % 2 === 0
            ? expectSignsAndVerifies(signer, { ...ec, private: throughSpy(ec) }, 'ES256')
            : expectSignsAndVerifies(signer, { ...rsa, private: throughSpy(rsa) }, 'RS256'),
        ),
      );
      expect(calls('C_OpenSession')).toBeGreaterThan(1);
      expect(calls('C_OpenSession')).toBeLessThanOrEqual(MAX_SESSIONS);
      expect(calls('C_Login')).toBe(1);
    } finally {
      await signer.close();
    }
    // Every session closed; the last one's close logs out (PKCS#11 3.0 §5.6).
    expect(calls('C_CloseSession')).toBe(calls('C_OpenSession'));
  });

  it('signatures asked for at once with a wrong PIN: one C_Login for all of them, never one each (a token counts wrong PINs)', async () => {
    writeFileSync(log, '');
    const signer = await pkcs11Backend({ pin: '000000' });
    try {
      const signing = Array.from({ length: 4 }, () =>
        rejection<KeymintError>(signer.sign(throughSpy(ec), 'ES256', new Uint8Array([1]))),
      );
      const errors = await Promise.all(signing);
      expect(errors.map((e) => e.code)).toEqual(Array(4).fill('ERR_PIN_INCORRECT'));
      expect(calls('C_Login')).toBe(1);
      expect(calls('C_Sign')).toBe(0);
    } finally {
      await signer.close();
    }
  });

  it('two keys asked for at once under the same label: one is made, the other is ERR_KEY_EXISTS (keys are made one at a time)', async () => {
    const uri = softhsm.uri(TOKEN, { path: 'object=same-label' });
    const twin = await pkcs11Backend({ uri });
    try {
      const ec = { kty: 'EC', crv: 'P-256' } as const;
      const results = await Promise.allSettled([createKey(twin, ec), createKey(twin, ec)]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect((refused.reason as KeymintError).code).toBe('ERR_KEY_EXISTS');
      expect((await twin.listKeys()).filter((k) => k.label === 'same-label' && k.type === 'private')).toHaveLength(1);
    } finally {
      await twin.close();
    }
  });
});
