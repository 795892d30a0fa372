import { describe, expect, it } from 'vitest';
import { ErrorCode, createKey, toPublicJwk, type Jwk, type KeyReference, type PrivatePart } from '@keymint/core';
import { verifyCompactJws } from '@keymint/core/testing';
import keychainFactory, {
  INDEX_ACCOUNT,
  deleteKeychainKey,
  keychainBackend,
  keychainLocation,
  listKeychainKeys,
} from '../src/index.js';
import { rejection, uniqueService } from '@keymint/test-kit';
import { removeAllKeys, secretTool } from './support/keys.js';

const b64 = (value: string | Uint8Array) => Buffer.from(value).toString('base64url');

/** Signs with a fresh backend (no options: the reference says where the key is) and verifies. */
async function signAndVerify(reference: KeyReference, publicJwk: Jwk, alg: string): Promise<boolean> {
  const input = `${b64(JSON.stringify({ alg }))}.${b64('payload')}`;
  const backend = await keychainBackend();
  try {
    const signature = await backend.sign({ kind: 'reference', reference }, alg, new TextEncoder().encode(input));
    return (await verifyCompactJws(`${input}.${b64(signature)}`, publicJwk, alg)).valid;
  } finally {
    await backend.close();
  }
}

function referenceOf(part: PrivatePart | undefined): KeyReference {
  if (part?.kind !== 'reference') throw new Error('expected a key reference');
  return part.reference;
}

/** The secret of an entry, looked up with secret-tool (the library stores the account as `username`). */
function lookup(service: string, account: string): string | undefined {
  const result = secretTool(['lookup', '--', 'service', service, 'username', account]);
  return result.status === 0 ? result.stdout : undefined;
}

describe('keychain backend on the Secret Service (gnome-keyring)', () => {
  it('is the default export, declares non-exportable keys of every software kind, and reports its name', async () => {
    const backend = await keychainFactory();
    expect(backend.name).toBe('keychain');
    expect(backend.capabilities.exportable).toBe(false);
    expect(backend.capabilities.keyTypes.map((t) => `${t.kty} ${t.crv ?? ''}`.trim())).toEqual([
      'EC P-256',
      'EC P-384',
      'EC P-521',
      'EC secp256k1',
      'OKP Ed25519',
      'OKP Ed448',
      'OKP X25519',
      'OKP X448',
      'RSA',
      'oct',
    ]);
  });

  it('stores the private JWK under the service and the kid; the reference holds no key material', async () => {
    const service = uniqueService('store');
    const key = await createKey(await keychainBackend({ service }), { kty: 'EC', crv: 'P-384' });
    const reference = referenceOf(key.private);
    expect(reference).toEqual({
      backend: 'keychain',
      location: { service, account: key.kid, store: 'secret-service', thumbprint: key.thumbprint },
    });
    expect(JSON.stringify(reference)).not.toMatch(/"d"/);
    // An independent look: secret-tool finds the item and its secret is the private JWK.
    const secret = lookup(service, key.kid as string);
    expect(secret).toBeDefined();
    const stored = JSON.parse(secret as string) as Jwk;
    expect(typeof stored.d).toBe('string');
    expect(toPublicJwk(stored)).toEqual(key.publicJwk);
    // secret-tool prints each item's label and secret on stdout, its attributes on stderr.
    const search = secretTool(['search', '--all', '--', 'service', service]);
    expect(search.stderr).toContain(`attribute.username = ${key.kid as string}`);
    expect(search.stderr).toContain(`attribute.username = ${INDEX_ACCOUNT}`);
    expect(search.stdout).toContain(`label = keyring:${key.kid as string}@${service}`);
    await removeAllKeys(service, 'secret-service');
  });

  it('signs from a reference on a fresh backend instance with no options', async () => {
    const service = uniqueService('sign');
    for (const params of [{ kty: 'EC' }, { kty: 'OKP', crv: 'Ed25519' }, { kty: 'RSA', alg: 'PS256' }] as const) {
      const key = await createKey(await keychainBackend({ service }), params);
      expect(await signAndVerify(referenceOf(key.private), key.publicJwk as Jwk, key.spec.alg as string)).toBe(true);
    }
    await removeAllKeys(service, 'secret-service');
  });

  it('uses the kid given with --kid, or the account given, as the account', async () => {
    const service = uniqueService('account');
    const byKid = await createKey(await keychainBackend({ service }), { kty: 'EC', kid: 'my key' });
    expect(keychainLocation(referenceOf(byKid.private)).account).toBe('my key');
    const byAccount = await createKey(await keychainBackend({ service, account: 'ci-signer' }), {
      kty: 'EC',
      kid: 'k1',
    });
    expect(keychainLocation(referenceOf(byAccount.private)).account).toBe('ci-signer');
    expect((JSON.parse(lookup(service, 'ci-signer') as string) as Jwk).kid).toBe('k1');
    await removeAllKeys(service, 'secret-service');
  });

  it('an oct key gets an account of its own and signs HS256', async () => {
    const service = uniqueService('oct');
    const key = await createKey(await keychainBackend({ service }), { kty: 'oct', alg: 'HS256' });
    const location = keychainLocation(referenceOf(key.private));
    expect(location.account).toMatch(/^oct-[0-9a-f-]{36}$/);
    expect(location.thumbprint).toBeUndefined();
    const stored = JSON.parse(lookup(service, location.account) as string) as Jwk;
    expect(stored).toMatchObject({ kty: 'oct', use: 'sig', alg: 'HS256' });
    expect(await signAndVerify(referenceOf(key.private), stored, 'HS256')).toBe(true);
    await removeAllKeys(service, 'secret-service');
  });

  it('refuses to overwrite an existing entry (ERR_KEY_EXISTS), and replaces it when told to', async () => {
    const service = uniqueService('exists');
    const first = await createKey(await keychainBackend({ service, account: 'same' }), { kty: 'EC' });
    const error = await rejection(
      createKey(await keychainBackend({ service, account: 'same' }), { kty: 'EC' }),
      ErrorCode.KEY_EXISTS,
    );
    expect(error.message).toContain(`service "${service}", account "same"`);
    expect(error.hint).toContain('--force');
    expect(toPublicJwk(JSON.parse(lookup(service, 'same') as string) as Jwk)).toEqual(first.publicJwk);
    const second = await createKey(await keychainBackend({ service, account: 'same', overwrite: true }), { kty: 'EC' });
    expect(toPublicJwk(JSON.parse(lookup(service, 'same') as string) as Jwk)).toEqual(second.publicJwk);
    // The first reference now points at another key: signing with it is refused, not a bad signature.
    const replaced = await rejection(
      signAndVerify(referenceOf(first.private), first.publicJwk as Jwk, 'ES256'),
      ErrorCode.INPUT_INVALID,
    );
    expect(replaced.message).toContain('holds another key than the reference');
    expect((await listKeychainKeys({ service })).keys.map((k) => k.account)).toEqual(['same']);
    await removeAllKeys(service, 'secret-service');
  });

  it('a deleted key: signing with its reference fails with ERR_KEY_NOT_FOUND', async () => {
    const service = uniqueService('missing');
    const key = await createKey(await keychainBackend({ service }), { kty: 'EC' });
    const location = keychainLocation(referenceOf(key.private));
    expect((await deleteKeychainKey(location)).outcome).toBe('deleted');
    expect(lookup(service, location.account)).toBeUndefined();
    const error = await rejection(
      signAndVerify(referenceOf(key.private), key.publicJwk as Jwk, 'ES256'),
      ErrorCode.KEY_NOT_FOUND,
    );
    expect(error.message).toContain(`account "${location.account}"`);
    await rejection(deleteKeychainKey(location), ErrorCode.KEY_NOT_FOUND);
  });

  it('a stored secret that is not a JWK: ERR_INPUT_INVALID, and listed as invalid', async () => {
    const service = uniqueService('garbage');
    const key = await createKey(await keychainBackend({ service, account: 'victim' }), { kty: 'EC' });
    expect(
      secretTool(['store', '--label=garbage', '--', 'service', service, 'username', 'victim'], 'this is not JSON')
        .status,
    ).toBe(0);
    const error = await rejection(
      signAndVerify(referenceOf(key.private), key.publicJwk as Jwk, 'ES256'),
      ErrorCode.INPUT_INVALID,
    );
    expect(error.message).toMatch(/does not hold a private JWK: its secret is not JSON/);
    expect(error.message).not.toContain('this is not JSON');
    secretTool(
      ['store', '--label=public', '--', 'service', service, 'username', 'victim'],
      JSON.stringify(key.publicJwk),
    );
    expect(
      (await rejection(signAndVerify(referenceOf(key.private), key.publicJwk as Jwk, 'ES256'), ErrorCode.INPUT_INVALID))
        .message,
    ).toMatch(/without private members/);
    expect((await listKeychainKeys({ service })).keys).toEqual([
      { service, account: 'victim', store: 'secret-service', status: 'invalid' },
    ]);
    expect((await deleteKeychainKey({ service, account: 'victim' })).outcome).toBe('deleted');
  });

  it('lists the keys it stored (service, account, kid, kty) and deletes by account', async () => {
    const service = uniqueService('list');
    const ec = await createKey(await keychainBackend({ service }), { kty: 'EC', crv: 'P-521' });
    const ed = await createKey(await keychainBackend({ service, account: 'ed' }), { kty: 'OKP', crv: 'Ed25519' });
    const listing = await listKeychainKeys({ service });
    expect(listing).toMatchObject({ service, store: 'secret-service', searched: true, warnings: [] });
    expect(listing.keys).toEqual(
      [
        {
          service,
          account: ec.kid,
          store: 'secret-service',
          status: 'ok',
          kid: ec.kid,
          kty: 'EC',
          crv: 'P-521',
          alg: 'ES512',
          use: 'sig',
          thumbprint: ec.thumbprint,
        },
        {
          service,
          account: 'ed',
          store: 'secret-service',
          status: 'ok',
          kid: ed.kid,
          kty: 'OKP',
          crv: 'Ed25519',
          alg: 'EdDSA',
          use: 'sig',
          thumbprint: ed.thumbprint,
        },
      ].sort((a, b) => ((a.account as string) < (b.account as string) ? -1 : 1)),
    );
    let asked: string | undefined;
    expect(
      (
        await deleteKeychainKey(
          { service, account: 'ed' },
          {
            confirm: (key) => {
              asked = key.kid;
              return false;
            },
          },
        )
      ).outcome,
    ).toBe('declined');
    expect(asked).toBe(ed.kid);
    expect(lookup(service, 'ed')).toBeDefined();
    expect((await deleteKeychainKey({ service, account: 'ed' }, { confirm: () => true })).outcome).toBe('deleted');
    expect((await listKeychainKeys({ service })).keys.map((k) => k.kid)).toEqual([ec.kid]);
    await removeAllKeys(service, 'secret-service');
    // The index entry goes with the last key: nothing of keymint's is left under the service.
    const left = secretTool(['search', '--all', '--', 'service', service]);
    expect(`${left.stdout}${left.stderr}`).toBe('');
  });

  it('refuses to delete, by reference, an entry that now holds another key', async () => {
    const service = uniqueService('delete-other');
    const old = await createKey(await keychainBackend({ service, account: 'a' }), { kty: 'EC' });
    await createKey(await keychainBackend({ service, account: 'a', overwrite: true }), { kty: 'EC' });
    await rejection(deleteKeychainKey(keychainLocation(referenceOf(old.private))), ErrorCode.INPUT_INVALID);
    expect(lookup(service, 'a')).toBeDefined();
    await removeAllKeys(service, 'secret-service');
  });

  it('keeps listing when keymint index entry is lost, damaged, or names a key deleted behind its back', async () => {
    const service = uniqueService('index');
    const a = await createKey(await keychainBackend({ service, account: 'a' }), { kty: 'EC' });
    await createKey(await keychainBackend({ service, account: 'b' }), { kty: 'EC' });
    // Lost: the Secret Service is searched too.
    expect(secretTool(['clear', '--', 'service', service, 'username', INDEX_ACCOUNT]).status).toBe(0);
    expect((await listKeychainKeys({ service })).keys.map((k) => k.account)).toEqual(['a', 'b']);
    // Damaged: reported, and rebuilt by the next create.
    secretTool(['store', '--label=index', '--', 'service', service, 'username', INDEX_ACCOUNT], '{not json');
    const damaged = await listKeychainKeys({ service });
    expect(damaged.keys.map((k) => k.account)).toEqual(['a', 'b']);
    expect(damaged.warnings.join(' ')).toMatch(/index entry .* is damaged/);
    await createKey(await keychainBackend({ service, account: 'c' }), { kty: 'EC' });
    expect(JSON.parse(lookup(service, INDEX_ACCOUNT) as string)).toEqual({
      type: 'keymint-keychain-index',
      version: 1,
      accounts: ['a', 'b', 'c'],
    });
    // Deleted outside keymint: listed as missing; delete takes it off the index.
    secretTool(['clear', '--', 'service', service, 'username', 'a']);
    const listing = await listKeychainKeys({ service });
    expect(listing.keys.find((k) => k.account === 'a')).toEqual({
      service,
      account: 'a',
      store: 'secret-service',
      status: 'missing',
    });
    expect(listing.warnings.join(' ')).toContain(`keymint keychain delete --keychain-service ${service} a`);
    expect((await deleteKeychainKey(keychainLocation(referenceOf(a.private)))).outcome).toBe('unlisted');
    expect((await listKeychainKeys({ service })).keys.map((k) => k.account)).toEqual(['b', 'c']);
    await removeAllKeys(service, 'secret-service');
  });

  it('rejects malformed options and references', async () => {
    await rejection(keychainBackend({ store: 'wallet' as 'keyutils' }), ErrorCode.PARAM_INVALID);
    await rejection(keychainBackend({ service: '' }), ErrorCode.PARAM_INVALID);
    await rejection(keychainBackend({ account: INDEX_ACCOUNT }), ErrorCode.PARAM_INVALID);
    const backend = await keychainBackend();
    const data = new Uint8Array([1]);
    await rejection(
      backend.sign(
        { kind: 'reference', reference: { backend: 'pkcs11', location: { uri: 'pkcs11:' } } },
        'ES256',
        data,
      ),
      ErrorCode.INPUT_INVALID,
    );
    await rejection(
      backend.sign(
        { kind: 'reference', reference: { backend: 'keychain', location: { service: 'keymint' } } },
        'ES256',
        data,
      ),
      ErrorCode.INPUT_INVALID,
    );
    await rejection(
      backend.sign(
        {
          kind: 'reference',
          reference: { backend: 'keychain', location: { service: 'keymint', account: 'a', store: 'wallet' } },
        },
        'ES256',
        data,
      ),
      ErrorCode.INPUT_INVALID,
    );
    await rejection(
      backend.sign({ kind: 'jwk', jwk: { kty: 'oct', k: 'AAAA' } }, 'HS256', data),
      ErrorCode.ALG_NOT_SUPPORTED,
    );
  });

  it('without a store asked for, uses the Secret Service when the session bus answers', async () => {
    const service = uniqueService('auto');
    const key = await createKey(await keychainBackend({ service }), { kty: 'EC' });
    expect(keychainLocation(referenceOf(key.private)).store).toBe(
      process.platform === 'linux' ? 'secret-service' : undefined,
    );
    await removeAllKeys(service, 'secret-service');
  });
});
