import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejection, useSoftHsm } from '@keymint/test-kit';
import { type KeymintError, createKey, resolveKeySpec, type NewKey } from '@keymint/core';
import { generateContext } from '@keymint/core/testing';
import { PIN_VALUE_WARNING, parsePkcs11Uri, pkcs11Backend, type Pkcs11Backend } from '../src/index.js';
import { SOFTHSM_TOKENS } from './fixtures/softhsm-tokens.js';
import { expectSignsAndVerifies } from './fixtures/sign-check.js';

const softhsm = useSoftHsm();
const TOKEN = SOFTHSM_TOKENS.backend;
const ERRORS = SOFTHSM_TOKENS.errors;
const PIN = softhsm.pin;
const SPY = '/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so';
const dir = mkdtempSync(join(tmpdir(), 'keymint-pkcs11-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The kit's rejection, and the message never shows the PIN. */
async function refusal(promise: Promise<unknown>): Promise<KeymintError> {
  const error = await rejection<KeymintError>(promise);
  expect(error.message).not.toContain(PIN);
  return error;
}

/** C_* calls logged by OpenSC's pkcs11-spy, which sits between keymint and SoftHSM. */
function spyCalls(log: string, name: string): number {
  return (readFileSync(log, 'utf8').match(new RegExp(`^\\d+: ${name}$`, 'gm')) ?? []).length;
}

function referenceOf(key: NewKey): string {
  expect(key.private?.kind).toBe('reference');
  if (key.private?.kind !== 'reference') throw new Error('not a reference');
  expect(key.private.reference.backend).toBe('pkcs11');
  return key.private.reference.location.uri as string;
}

describe('pkcs11 backend on SoftHSM2: keys and references', () => {
  let backend: Pkcs11Backend;
  beforeAll(async () => {
    backend = await pkcs11Backend({ uri: softhsm.uri(TOKEN) });
  });
  afterAll(async () => {
    await backend.close();
  });

  it('declares the token it is on, from its mechanism list', () => {
    expect(backend.name).toBe('pkcs11');
    expect(backend.capabilities.exportable).toBe(false);
    expect(backend.token?.token.label).toBe(TOKEN);
    expect(backend.token?.module.manufacturer).toBe('SoftHSM');
  });

  it('writes a reference with the full URI of the key: token, label = kid, id, type, module; no PIN', async () => {
    const key = await createKey(backend, { kty: 'EC', crv: 'P-256' });
    const text = referenceOf(key);
    const uri = parsePkcs11Uri(text);
    expect(uri.token).toBe(TOKEN);
    expect(uri.serial).toMatch(/^[0-9a-f]{16}$/);
    expect(uri.object).toBe(key.kid);
    expect(uri.type).toBe('private');
    expect(uri.id).toHaveLength(16);
    expect(uri.modulePath).toBe(softhsm.module);
    expect(uri.pinValue).toBeUndefined();
    expect(uri.pinSource).toBe(`file:${softhsm.pinFile}`);
    expect(text).not.toContain(PIN);
  });

  it('signs with a key reference on a fresh backend that has no URI (PIN from KEYMINT_PKCS11_PIN)', async () => {
    const made: Array<[NewKey, string]> = [];
    // Made with the PIN through the API, so that the references carry no pin-source.
    const maker = await pkcs11Backend({ uri: softhsm.uri(TOKEN, { pin: false }), pin: PIN });
    try {
      for (const [params, alg] of [
        [{ kty: 'EC', crv: 'P-384' }, 'ES384'],
        [{ kty: 'OKP', crv: 'Ed25519' }, 'EdDSA'],
        [{ kty: 'RSA', size: 2048, alg: 'PS256' }, 'PS256'],
        [{ kty: 'RSA', size: 2048 }, 'RS512'],
      ] as const) {
        made.push([await createKey(maker, params), alg]);
      }
    } finally {
      await maker.close();
    }
    for (const [key] of made) expect(parsePkcs11Uri(referenceOf(key)).pinSource).toBeUndefined();

    const signer = await pkcs11Backend({ env: { KEYMINT_PKCS11_PIN: PIN } });
    try {
      expect(signer.token).toBeUndefined();
      for (const [key, alg] of made) await expectSignsAndVerifies(signer, key, alg);
    } finally {
      await signer.close();
    }

    const nobody = await pkcs11Backend({ env: {} });
    try {
      const error = await refusal(nobody.sign(made[0]![0].private!, 'ES384', new Uint8Array(8)));
      expect(error.code).toBe('ERR_PASSWORD_REQUIRED');
      expect(error.message).toContain(`token "${TOKEN}"`);
    } finally {
      await nobody.close();
    }
  });

  it('signs HMAC with a secret key that never leaves the token (deterministic, HS384)', async () => {
    const key = await createKey(backend, { kty: 'oct', alg: 'HS384' });
    expect(parsePkcs11Uri(referenceOf(key)).type).toBe('secret-key');
    const data = new TextEncoder().encode('a.b');
    const one = await backend.sign(key.private!, 'HS384', data);
    expect(one).toHaveLength(48);
    expect(Buffer.from(await backend.sign(key.private!, 'HS384', data)).equals(Buffer.from(one))).toBe(true);
  });

  it('names a key by --kid, or by object= and id= in the URI', async () => {
    const byKid = await createKey(backend, { kty: 'EC', kid: 'client-1' });
    expect(parsePkcs11Uri(referenceOf(byKid)).object).toBe('client-1');
    const named = await pkcs11Backend({ uri: softhsm.uri(TOKEN, { path: 'object=named%20key;id=%C0%FF%EE' }) });
    try {
      const key = await createKey(named, { kty: 'EC' });
      const uri = parsePkcs11Uri(referenceOf(key));
      expect(uri.object).toBe('named key');
      expect(Buffer.from(uri.id!).toString('hex')).toBe('c0ffee');
      // The label is the URI's; the kid is still the thumbprint.
      expect(key.kid).toBe(key.thumbprint);
      await expectSignsAndVerifies(named, key, 'ES256');
    } finally {
      await named.close();
    }
  });

  it('refuses a label or an id that exists, and leaves the token as it was', async () => {
    await createKey(backend, { kty: 'EC', kid: 'taken' });
    const before = softhsm.objects(TOKEN);
    const again = await refusal(createKey(backend, { kty: 'RSA', kid: 'taken' }));
    expect(again.code).toBe('ERR_KEY_EXISTS');
    expect(again.message).toBe(
      `token "${TOKEN}" (serial ${backend.token!.token.serial}) already has an object with label "taken": keymint never replaces a key on a token`,
    );
    for (const path of ['object=taken', 'id=%C0%FF%EE']) {
      const other = await pkcs11Backend({ uri: softhsm.uri(TOKEN, { path }) });
      try {
        expect((await refusal(createKey(other, { kty: 'EC' }))).code).toBe('ERR_KEY_EXISTS');
      } finally {
        await other.close();
      }
    }
    expect(softhsm.objects(TOKEN)).toBe(before);
  });

  it('refuses what the token cannot do before anything is made, naming the token', async () => {
    const before = softhsm.objects(TOKEN);
    expect((await refusal(createKey(backend, { kty: 'OKP', crv: 'X25519', use: 'enc' }))).code).toBe(
      'ERR_ALG_NOT_SUPPORTED',
    );
    const k1 = resolveKeySpec({ kty: 'EC', crv: 'secp256k1' });
    const direct = await refusal(backend.generate(k1, generateContext(k1)));
    expect(direct.code).toBe('ERR_ALG_NOT_SUPPORTED');
    expect(direct.message).toMatch(
      new RegExp(
        `^EC secp256k1 ES256K keys are not supported by token "${TOKEN}" \\(serial [0-9a-f]+\\): it can make RSA 512-16384, EC P-256, `,
      ),
    );
    expect(softhsm.objects(TOKEN)).toBe(before);
  });

  it('refuses to sign with the wrong kind of key', async () => {
    const enc = await createKey(backend, { kty: 'RSA', use: 'enc' });
    const notForSigning = await refusal(backend.sign(enc.private!, 'RS256', new Uint8Array(4)));
    expect(notForSigning.code).toBe('ERR_ALG_NOT_SUPPORTED');
    expect(notForSigning.message).toContain('CKR_KEY_FUNCTION_NOT_PERMITTED');
    expect(
      (await refusal(backend.sign({ kind: 'jwk', jwk: { kty: 'oct', k: 'AA' } }, 'HS256', new Uint8Array(1)))).code,
    ).toBe('ERR_ALG_NOT_SUPPORTED');
    expect(
      (
        await refusal(
          backend.sign(
            { kind: 'reference', reference: { backend: 'keychain', location: {} } },
            'ES256',
            new Uint8Array(1),
          ),
        )
      ).code,
    ).toBe('ERR_ALG_NOT_SUPPORTED');
    const gone = `pkcs11:token=${TOKEN};object=no-such-key;type=private?module-path=${softhsm.module}`;
    const missing = await refusal(
      backend.sign(
        { kind: 'reference', reference: { backend: 'pkcs11', location: { uri: gone } } },
        'ES256',
        new Uint8Array(1),
      ),
    );
    expect(missing.code).toBe('ERR_KEY_NOT_FOUND');
    const malformed = await refusal(
      backend.sign(
        { kind: 'reference', reference: { backend: 'pkcs11', location: { uri: 'pkcs11:token=a b' } } },
        'ES256',
        new Uint8Array(1),
      ),
    );
    expect(malformed.code).toBe('ERR_INPUT_INVALID');
  });

  it('lists the keys on the token with kty, kid, sensitivity, usages and URI', async () => {
    const key = await createKey(backend, { kty: 'EC', crv: 'P-521', kid: 'listed' });
    const keys = await backend.listKeys();
    const listed = keys.find((k) => k.label === 'listed');
    expect(listed).toMatchObject({
      type: 'private',
      kty: 'EC',
      crv: 'P-521',
      kid: key.thumbprint,
      sensitive: true,
      extractable: false,
      usages: ['sign'],
    });
    expect(listed?.uri).toBe(referenceOf(key));
    const secret = keys.find((k) => k.type === 'secret-key');
    expect(secret).toMatchObject({ kty: 'oct', size: 384, kid: null, usages: ['sign', 'verify'] });
  });

  it('closes cleanly, more than once; a closed backend refuses work', async () => {
    const other = await pkcs11Backend({ uri: softhsm.uri(TOKEN) });
    await createKey(other, { kty: 'EC' });
    await other.close();
    await other.close();
    expect((await refusal(createKey(other, { kty: 'EC' }))).code).toBe('ERR_USAGE');
  });
});

describe('pkcs11 backend on SoftHSM2: sessions and PINs (watched through pkcs11-spy)', () => {
  const spyUri = (label: string, pin = '') => `pkcs11:token=${label}?module-path=${SPY}${pin}`;
  let log: string;
  beforeAll(() => {
    log = join(dir, 'spy.log');
    process.env.PKCS11SPY = softhsm.module;
    process.env.PKCS11SPY_OUTPUT = log;
  });

  it('logs in once and keeps one session for a batch of keys', async () => {
    writeFileSync(log, '');
    const backend = await pkcs11Backend({ uri: spyUri(TOKEN), pin: PIN });
    try {
      for (let i = 0; i < 3; i++) await createKey(backend, { kty: 'EC' });
    } finally {
      await backend.close();
    }
    expect(spyCalls(log, 'C_Login')).toBe(1);
    expect(spyCalls(log, 'C_OpenSession')).toBe(1);
    expect(spyCalls(log, 'C_GenerateKeyPair')).toBe(3);
    expect(spyCalls(log, 'C_CloseSession')).toBe(1);
    expect(spyCalls(log, 'C_Finalize')).toBe(1);
  });

  it('fails on a wrong PIN at once: one C_Login, no retry, and the token still opens with the right PIN', async () => {
    writeFileSync(log, '');
    const backend = await pkcs11Backend({ uri: spyUri(ERRORS, '&pin-value=000000'), warn: () => undefined });
    try {
      const error = await refusal(createKey(backend, { kty: 'EC' }));
      expect(error.code).toBe('ERR_PIN_INCORRECT');
      expect(error.message).toMatch(new RegExp(`^token "${ERRORS}" \\(serial [0-9a-f]+\\) refused the PIN$`));
      expect(error.message).not.toContain('000000');
      // A second operation on the same backend does not try again either.
      expect((await refusal(createKey(backend, { kty: 'EC' }))).code).toBe('ERR_PIN_INCORRECT');
    } finally {
      await backend.close();
    }
    expect(spyCalls(log, 'C_Login')).toBe(2);
    expect(spyCalls(log, 'C_GenerateKeyPair')).toBe(0);
    const right = await pkcs11Backend({ uri: softhsm.uri(ERRORS) });
    try {
      await createKey(right, { kty: 'EC' });
    } finally {
      await right.close();
    }
  });

  it('warns that pin-value leaks, once, and never writes it into the reference', async () => {
    const warnings: string[] = [];
    const backend = await pkcs11Backend({
      uri: `${softhsm.uri(TOKEN, { pin: false })}&pin-value=${PIN}`,
      warn: (m) => warnings.push(m),
    });
    try {
      const key = await createKey(backend, { kty: 'EC' });
      expect(referenceOf(key)).not.toContain('pin-value');
      expect(warnings).toEqual([PIN_VALUE_WARNING]);
    } finally {
      await backend.close();
    }
  });
});

describe('pkcs11 backend: errors before a token is reached', () => {
  it.each([
    [
      'a module that does not exist',
      () => `pkcs11:token=x?module-path=${join(dir, 'missing.so')}`,
      'ERR_BACKEND_UNAVAILABLE',
      /^the PKCS#11 module .*missing\.so does not exist$/,
    ],
    [
      'a file that is not a library',
      () => {
        writeFileSync(join(dir, 'text.so'), 'hello');
        return `pkcs11:token=x?module-path=${join(dir, 'text.so')}`;
      },
      'ERR_BACKEND_UNAVAILABLE',
      /text\.so is not a PKCS#11 module: it could not be loaded/,
    ],
    [
      'a library that is not PKCS#11',
      () => 'pkcs11:token=x?module-path=/usr/lib/x86_64-linux-gnu/libz.so.1',
      'ERR_BACKEND_UNAVAILABLE',
      /libz\.so\.1 is not a PKCS#11 module/,
    ],
    ['a URI without a module', () => 'pkcs11:token=x', 'ERR_USAGE', /^no PKCS#11 module given/],
    ['a malformed URI', () => 'pkcs11:token=a b', 'ERR_USAGE', /^invalid PKCS#11 URI/],
    [
      'a pin-source that is a program',
      () => `pkcs11:token=x?module-path=${softhsm.module}&pin-source=%7C/bin/pin`,
      'ERR_USAGE',
      /keymint reads the PIN only from a file/,
    ],
  ])('%s', async (_name, uri, code, message) => {
    const error = await refusal(pkcs11Backend({ uri: uri(), env: {} }));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('no such token: lists the tokens the module has', async () => {
    const error = await refusal(pkcs11Backend({ uri: `pkcs11:token=nope?module-path=${softhsm.module}` }));
    expect(error.code).toBe('ERR_TOKEN_NOT_FOUND');
    expect(error.message).toContain(
      `no token matches token "nope" in the PKCS#11 module ${softhsm.module}: its tokens are `,
    );
    for (const label of softhsm.labels) expect(error.message).toContain(`"${label}" (serial `);
  });

  it('chooses a token by serial or slot-id as well as by label', async () => {
    const first = await pkcs11Backend({ uri: softhsm.uri(TOKEN) });
    const { serial } = first.token!.token;
    const slotId = first.token!.slotId;
    await first.close();
    for (const path of [`serial=${serial}`, `slot-id=${slotId}`]) {
      const backend = await pkcs11Backend({ uri: `pkcs11:${path}?module-path=${softhsm.module}` });
      expect(backend.token?.token.label).toBe(TOKEN);
      await backend.close();
    }
    const ambiguous = await refusal(pkcs11Backend({ uri: `pkcs11:model=SoftHSM%20v2?module-path=${softhsm.module}` }));
    expect(ambiguous.code).toBe('ERR_USAGE');
    expect(ambiguous.message).toMatch(/^\d+ tokens match model "SoftHSM v2"/);
  });

  it('without a URI it can sign references but not create keys', async () => {
    const backend = await pkcs11Backend({ env: {} });
    try {
      expect(backend.capabilities.keyTypes.length).toBeGreaterThan(0);
      const error = await refusal(createKey(backend, { kty: 'EC' }));
      expect(error.code).toBe('ERR_USAGE');
      expect(error.message).toBe('the pkcs11 backend needs a token to create keys on: none was given');
    } finally {
      await backend.close();
    }
  });
});
