import { sign as nodeSign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pythonPbes2Jwe, rejection, thrown, withP2c, newKeyPair } from '@keymint/test-kit';
import type { KeyBackend, PrivatePart } from '../src/backend.js';
import { encryptJwk } from '../src/jwe.js';
import type { Jwk, JwkSet } from '../src/jwk.js';
import { parseKeyDocument, serializeReference } from '../src/key-document.js';
import { openPrivateKey, publicOf, type BackendResolver } from '../src/open-key.js';

const PASSWORD = 'correct horse battery staple';
const EC = {
  ...(newKeyPair('ec', { namedCurve: 'prime256v1' }).privateJwk as Jwk),
  kid: 'ec-1',
  use: 'sig',
  alg: 'ES256',
};
const { d: _d, ...EC_PUBLIC } = EC;

/** A JWE made by Python's cryptography, not by keymint or jose. */
function python(form: string, enc: string, p2c: number, extra: string[] = [], jwk: Jwk = EC): string {
  return pythonPbes2Jwe(jwk, { form, enc, p2c, password: PASSWORD, cty: !extra.includes('nocty') });
}

/**
 * Resolves backend names to distinct backends and records what was asked: these tests are about
 * which backend openPrivateKey routes a key to, not about signing (the backends' own tests and
 * the CLI's end-to-end tests sign with the real ones).
 */
function recordingResolver(): { resolve: BackendResolver; asked: string[] } {
  const asked: string[] = [];
  const resolve: BackendResolver = async (name) => {
    asked.push(name);
    return {
      name,
      capabilities: { exportable: name === 'software', keyTypes: [] },
      generate: () => Promise.reject(new Error('not used')),
      sign: (_key: PrivatePart, _alg: string, data: Uint8Array) =>
        Promise.resolve(
          new Uint8Array(nodeSign('sha256', data, { key: EC as never, format: 'jwk', dsaEncoding: 'ieee-p1363' })),
        ),
      close: () => Promise.resolve(),
    } satisfies KeyBackend;
  };
  return { resolve, asked };
}

/** A password source that counts how often it was asked. */
function passwordSource(password = PASSWORD): { password: () => Promise<string>; calls: () => number } {
  let calls = 0;
  return {
    password: async () => {
      calls++;
      return password;
    },
    calls: () => calls,
  };
}

describe('openPrivateKey: encrypted JWKs as step writes them (made by Python cryptography)', () => {
  it.each([
    ['flattened JSON, A256GCM, p2c 600000 (step today)', () => python('flattened', 'A256GCM', 600_000)],
    ['compact, A128GCM, p2c 100000, no cty (older step)', () => python('compact', 'A128GCM', 100_000, ['nocty'])],
    ['general JSON, A128CBC-HS256', () => python('general', 'A128CBC-HS256', 1000)],
  ])('%s opens, through the software backend', async (_name, make) => {
    const text = make();
    const doc = parseKeyDocument(text, 'step.json');
    expect(doc.kind).toBe('jwe');
    const { resolve, asked } = recordingResolver();
    const source = passwordSource();
    const key = await openPrivateKey(doc, { source: 'step.json', password: source.password, backends: resolve });
    expect(key.private).toEqual({ kind: 'jwk', jwk: EC });
    expect(key.jwk).toEqual(EC);
    expect(key.publicJwk).toEqual(EC_PUBLIC);
    expect(key.publicJwk).not.toHaveProperty('d');
    expect(asked).toEqual(['software']);
    expect(key.backend.name).toBe('software');
    expect(source.calls()).toBe(1);
  });

  it('refuses p2c 2^31 before asking for the password or deriving a key (finishing at all proves it: 2^31 rounds take hours)', async () => {
    const text = withP2c(python('compact', 'A128GCM', 1000), 2 ** 31);
    const source = passwordSource();
    const error = await rejection(
      openPrivateKey(parseKeyDocument(text, 'evil.json'), {
        source: 'evil.json',
        password: source.password,
        backends: recordingResolver().resolve,
      }),
    );
    expect(error.code).toBe('ERR_INPUT_INVALID');
    expect(error.message).toMatch(/p2c.*2147483648.*1000000/);
    expect(source.calls()).toBe(0);
  });

  it('refuses p2c 1000001 (just over the bound) the same way', async () => {
    const source = passwordSource();
    const error = await rejection(
      openPrivateKey(parseKeyDocument(withP2c(python('flattened', 'A256GCM', 1000), 1_000_001), 'k'), {
        source: 'k',
        password: source.password,
        backends: recordingResolver().resolve,
      }),
    );
    expect(error.code).toBe('ERR_INPUT_INVALID');
    expect(source.calls()).toBe(0);
  });

  it('a wrong password is ERR_DECRYPT_FAILED, an altered ciphertext too', async () => {
    const text = python('flattened', 'A256GCM', 1000);
    const wrong = await rejection(
      openPrivateKey(parseKeyDocument(text, 'k'), {
        source: 'k',
        password: passwordSource('nope').password,
        backends: recordingResolver().resolve,
      }),
    );
    expect(wrong.code).toBe('ERR_DECRYPT_FAILED');
    expect(wrong.message).toMatch(/wrong password/);
    const jwe = JSON.parse(text) as Record<string, string>;
    const ct = jwe.ciphertext as string;
    jwe.ciphertext = (ct[0] === 'A' ? 'B' : 'A') + ct.slice(1);
    const altered = await rejection(
      openPrivateKey(parseKeyDocument(JSON.stringify(jwe), 'k'), {
        source: 'k',
        password: passwordSource().password,
        backends: recordingResolver().resolve,
      }),
    );
    expect(altered.code).toBe('ERR_DECRYPT_FAILED');
  });

  it('a corrupt JWE header is ERR_INPUT_INVALID before the password is asked', async () => {
    const source = passwordSource();
    const text = JSON.stringify({
      protected: 'not-a-header',
      encrypted_key: 'AA',
      iv: 'AA',
      ciphertext: 'AA',
      tag: 'AA',
    });
    const error = await rejection(
      openPrivateKey(parseKeyDocument(text, 'k'), {
        source: 'k',
        password: source.password,
        backends: recordingResolver().resolve,
      }),
    );
    expect(error.code).toBe('ERR_INPUT_INVALID');
    expect(source.calls()).toBe(0);
  });

  it('an encrypted key without a password source is ERR_PASSWORD_REQUIRED', async () => {
    const text = await encryptJwk(EC, PASSWORD, { pbes2Count: 1000 });
    const error = await rejection(
      openPrivateKey(parseKeyDocument(text, 'k.json'), { source: 'k.json', backends: recordingResolver().resolve }),
    );
    expect(error.code).toBe('ERR_PASSWORD_REQUIRED');
  });
});

describe('openPrivateKey: the other forms', () => {
  it('takes a plain private JWK as it is, through the software backend, without asking for a password', async () => {
    const source = passwordSource();
    const { resolve, asked } = recordingResolver();
    const key = await openPrivateKey(parseKeyDocument(JSON.stringify(EC), 'k'), {
      source: 'k',
      password: source.password,
      backends: resolve,
    });
    expect(key.private).toEqual({ kind: 'jwk', jwk: EC });
    expect(asked).toEqual(['software']);
    expect(source.calls()).toBe(0);
  });

  it('hands a key reference to the backend named in it, with no password and no secret', async () => {
    const reference = { backend: 'pkcs11', location: { uri: 'pkcs11:token=t;object=k' } };
    const text = serializeReference(reference, EC_PUBLIC);
    const { resolve, asked } = recordingResolver();
    const source = passwordSource();
    const key = await openPrivateKey(parseKeyDocument(text, 'ref.json'), {
      source: 'ref.json',
      password: source.password,
      backends: resolve,
    });
    expect(asked).toEqual(['pkcs11']);
    expect(key.backend.name).toBe('pkcs11');
    expect(key.private).toEqual({ kind: 'reference', reference });
    expect(key.publicJwk).toEqual(EC_PUBLIC);
    expect(source.calls()).toBe(0);
  });

  it('refuses a public key, and a set of several keys', async () => {
    const pub = await rejection(
      openPrivateKey(parseKeyDocument(JSON.stringify(EC_PUBLIC), 'pub.json'), {
        source: 'pub.json',
        backends: recordingResolver().resolve,
      }),
    );
    expect(pub.code).toBe('ERR_INPUT_INVALID');
    expect(pub.message).toMatch(/public key/);
    const set = await rejection(
      openPrivateKey(parseKeyDocument(JSON.stringify({ keys: [EC, EC] }), 'set.json'), {
        source: 'set.json',
        backends: recordingResolver().resolve,
      }),
    );
    expect(set.code).toBe('ERR_INPUT_INVALID');
  });

  it('opens a JWK Set holding exactly one private key', async () => {
    const key = await openPrivateKey(parseKeyDocument(JSON.stringify({ keys: [EC] }), 'set.json'), {
      source: 'set.json',
      backends: recordingResolver().resolve,
    });
    expect(key.jwk).toEqual(EC);
  });
});

describe('publicOf', () => {
  it('gives the public JWK of a plain, an encrypted and a referenced key', async () => {
    expect(await publicOf(parseKeyDocument(JSON.stringify(EC), 'k'), { source: 'k' })).toEqual(EC_PUBLIC);
    const jwe = python('flattened', 'A256GCM', 1000);
    expect(await publicOf(parseKeyDocument(jwe, 'k'), { source: 'k', password: passwordSource().password })).toEqual(
      EC_PUBLIC,
    );
    const ref = serializeReference({ backend: 'keychain', location: { service: 's', account: 'a' } }, EC_PUBLIC);
    expect(await publicOf(parseKeyDocument(ref, 'r'), { source: 'r' })).toEqual(EC_PUBLIC);
  });

  it('refuses a hand-edited reference that carries private members: a reference holds no secret', () => {
    const ref = JSON.parse(
      serializeReference({ backend: 'pkcs11', location: { uri: 'pkcs11:object=k' } }, EC_PUBLIC),
    ) as Record<string, unknown>;
    ref.jwk = EC;
    expect(thrown(() => parseKeyDocument(JSON.stringify(ref), 'r'))).toMatchObject({
      code: 'ERR_INPUT_INVALID',
      message: expect.stringMatching(/^r is a key reference whose "jwk" holds private key material/),
    });
  });

  it('turns a set into the set of public keys, keeping its other members', async () => {
    const set = { issuer: 'https://as.example', keys: [EC] };
    const out = (await publicOf(parseKeyDocument(JSON.stringify(set), 's'), { source: 's' })) as JwkSet;
    expect(out).toEqual({ issuer: 'https://as.example', keys: [EC_PUBLIC] });
  });

  it('refuses an oct key unless allowSecret', async () => {
    const oct = { kty: 'oct', k: 'GawgguFyGrWKav7AX4VKUg', kid: 'h' };
    const error = await rejection(publicOf(parseKeyDocument(JSON.stringify(oct), 'h.json'), { source: 'h.json' }));
    expect(error.code).toBe('ERR_INPUT_INVALID');
    expect(error.message).toMatch(/oct/);
    expect(
      await publicOf(parseKeyDocument(JSON.stringify(oct), 'h.json'), { source: 'h.json', allowSecret: true }),
    ).toEqual(oct);
  });
});
