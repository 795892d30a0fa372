import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P11_KIT_CLIENT, p11KitServer, rejection, useSoftHsm } from '@keymint/test-kit';
import { type KeymintError, createKey, type NewKey, type PrivatePart } from '@keymint/core';
import { pkcs11Backend } from '../src/index.js';
import { SOFTHSM_TOKENS } from './fixtures/softhsm-tokens.js';
import { expectSignsAndVerifies } from './fixtures/sign-check.js';

/**
 * A SoftHSM2 token forwarded over a unix socket by `p11-kit server`, used through p11-kit's client
 * module, as a container reaches a forwarded token or a program a network HSM: everything works as
 * on the local token; when the server goes away an operation fails with ERR_BACKEND_UNAVAILABLE
 * ("the token is unavailable"), and once it is back the same backend works again.
 */
const softhsm = useSoftHsm();
const TOKEN = SOFTHSM_TOKENS.forwarded;
const server = p11KitServer(softhsm.module, TOKEN, softhsm.env);
// p11-kit's client reads these when it is initialized, in this process.
Object.assign(process.env, server.env);
const forwardedUri = () => softhsm.uri(TOKEN).replace(`module-path=${softhsm.module}`, `module-path=${P11_KIT_CLIENT}`);
const UNAVAILABLE = new RegExp(
  `^(finding the key|signing with ES256) on token "${TOKEN}" \\(serial [0-9a-f]+\\) failed: ` +
    'the token is unavailable \\(CKR_DEVICE_ERROR\\)$',
);
const NO_SERVER = new RegExp(
  `^token "${TOKEN}"(, [a-z]+ [^,]+)* is unavailable: ` +
    `the PKCS#11 module ${P11_KIT_CLIENT.replace(/\./g, '\\.')} is p11-kit's client, and it reaches no server$`,
);

beforeAll(() => server.start());
afterAll(() => server.stop());

describe('a SoftHSM2 token forwarded by p11-kit server, through p11-kit-client.so', () => {
  type Made = NewKey & { alg: string };
  let keys: Made[];
  beforeAll(async () => {
    const backend = await pkcs11Backend({ uri: forwardedUri() });
    try {
      expect(backend.token?.module.description).toBe('PKCS#11 Kit Proxy Module');
      keys = [
        { ...(await createKey(backend, { kty: 'EC', crv: 'P-256', alg: 'ES256' })), alg: 'ES256' },
        { ...(await createKey(backend, { kty: 'RSA', size: 2048, alg: 'RS256' })), alg: 'RS256' },
      ];
      // Listed through the socket, with their public keys, as on the local token.
      const listed = (await backend.listKeys()).filter((k) => k.type === 'private');
      expect(listed.map((k) => k.kid).sort()).toEqual(keys.map((k) => k.kid).sort());
    } finally {
      await backend.close();
    }
  });

  it('keys made through the socket sign through it (ES256, RS256) and on the local token: the same keys', async () => {
    const forwarded = await pkcs11Backend({});
    try {
      for (const key of keys) await expectSignsAndVerifies(forwarded, key, key.alg);
    } finally {
      await forwarded.close();
    }
    const local = await pkcs11Backend({});
    const onLocal = (part: PrivatePart): PrivatePart => {
      if (part.kind !== 'reference') return part;
      const uri = String(part.reference.location.uri).replace(P11_KIT_CLIENT, softhsm.module);
      return { kind: 'reference', reference: { ...part.reference, location: { uri } } };
    };
    try {
      for (const key of keys) await expectSignsAndVerifies(local, { ...key, private: onLocal(key.private!) }, key.alg);
    } finally {
      await local.close();
    }
  });

  it('the server killed during a run of signatures: ERR_BACKEND_UNAVAILABLE, one line; restarted: the same backend signs again', async () => {
    const [ec] = keys as [Made];
    const signer = await pkcs11Backend({});
    try {
      for (let i = 0; i < 5; i++) await expectSignsAndVerifies(signer, ec, 'ES256');
      await server.kill();
      const lost = await rejection<KeymintError>(signer.sign(ec.private!, 'ES256', new Uint8Array([1])));
      expect(lost.code).toBe('ERR_BACKEND_UNAVAILABLE');
      expect(lost.message).toMatch(UNAVAILABLE);
      expect(lost.hint).toMatch(/check that it runs/);
      // The sessions are gone with the server; the next try loads the client afresh and finds no server.
      const still = await rejection<KeymintError>(signer.sign(ec.private!, 'ES256', new Uint8Array([2])));
      expect(still.code).toBe('ERR_BACKEND_UNAVAILABLE');
      expect(still.message).toMatch(NO_SERVER);
      await server.start();
      for (let i = 0; i < 5; i++) await expectSignsAndVerifies(signer, ec, 'ES256');
    } finally {
      await signer.close();
    }
  });

  it('signatures at once on the pool when the server dies: each signs or is ERR_BACKEND_UNAVAILABLE, and all sign again after a restart', async () => {
    const [ec, rsa] = keys as [Made, Made];
    const signer = await pkcs11Backend({});
    try {
      const round = () =>
        Promise.allSettled(
          Array.from({ length: 8 }, (_, i) =>
            expectSignsAndVerifies(signer, i % 2 ? rsa : ec, i % 2 ? 'RS256' : 'ES256'),
          ),
        );
      expect((await round()).every((r) => r.status === 'fulfilled')).toBe(true);
      const during = round();
      await server.kill();
      for (const result of await during) {
        if (result.status === 'rejected') expect((result.reason as KeymintError).code).toBe('ERR_BACKEND_UNAVAILABLE');
      }
      await server.start();
      const after = await round();
      expect(
        after.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)),
      ).toEqual([]);
    } finally {
      await signer.close();
    }
  });

  it('no server when the backend starts: ERR_BACKEND_UNAVAILABLE naming p11-kit, not "no such token"', async () => {
    await server.kill();
    try {
      const error = await rejection<KeymintError>(pkcs11Backend({ uri: forwardedUri() }));
      expect(error.code).toBe('ERR_BACKEND_UNAVAILABLE');
      expect(error.message).toMatch(NO_SERVER);
      expect(error.hint).toBe('start the p11-kit server, or check P11_KIT_SERVER_ADDRESS');
    } finally {
      await server.start();
    }
    const backend = await pkcs11Backend({ uri: forwardedUri() });
    await backend.close();
  });
});
