import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  sign as nodeSign,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompactSign, compactVerify, importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { decryptWithPython, PYTHON, runTool, toolStatus } from '@keymint/test-kit';
import {
  FAST,
  PASSWORD,
  decodeB64url,
  decryptWithJose,
  keymint,
  passwordFile,
  protectedHeader,
  readJson,
  tempDir,
  type Jwk,
} from './helpers.js';

/**
 * Keys made by keymint, checked by implementations that share no code with it: OpenSSL's
 * command line, the jose C tool (Debian's `jose`) and Python's cryptography.
 */

/** Creates a key with an unencrypted private file (--no-password --insecure) in a new dir. */
async function createPlain(flags: readonly string[]): Promise<{ dir: string; pub: Jwk; priv: Jwk }> {
  const dir = tempDir();
  const result = await keymint(['create', '--no-password', '--insecure', ...flags, 'key.pub.json', 'key.json'], {
    cwd: dir,
  });
  expect(result.code, result.stderr).toBe(0);
  return { dir, pub: readJson<Jwk>(join(dir, 'key.pub.json')), priv: readJson<Jwk>(join(dir, 'key.json')) };
}

function privateKeyOf(jwk: Jwk): KeyObject {
  return createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
}

/** Writes the private JWK as PKCS#8 PEM (key.pem) and the public JWK as SPKI PEM (pub.pem). */
function writePems(dir: string, pub: Jwk, priv: Jwk): { keyPem: string; pubPem: string } {
  const keyPem = privateKeyOf(priv).export({ type: 'pkcs8', format: 'pem' }) as string;
  const pubPem = createPublicKey({ key: pub as JsonWebKey, format: 'jwk' }).export({
    type: 'spki',
    format: 'pem',
  }) as string;
  writeFileSync(join(dir, 'key.pem'), keyPem);
  writeFileSync(join(dir, 'pub.pem'), pubPem);
  return { keyPem, pubPem };
}

/** DER INTEGER of an unsigned big-endian number. */
function derInteger(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  let body = bytes.subarray(i);
  if ((body[0] ?? 0) & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return Buffer.concat([Buffer.from([0x02]), derLength(body.length), body]);
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  if (length < 0x100) return Buffer.from([0x81, length]);
  return Buffer.from([0x82, length >> 8, length & 0xff]);
}

/** A JOSE ECDSA signature (r||s, RFC 7518 §3.4) as the DER Ecdsa-Sig-Value OpenSSL wants. */
function rsToDer(signature: Buffer): Buffer {
  const half = signature.length / 2;
  const body = Buffer.concat([derInteger(signature.subarray(0, half)), derInteger(signature.subarray(half))]);
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
}

/** A DER Ecdsa-Sig-Value (from OpenSSL) as r||s, each `size` bytes. */
function derToRs(der: Buffer, size: number): Buffer {
  let offset = der[1] === 0x81 ? 3 : 2;
  const parts: Buffer[] = [];
  for (let n = 0; n < 2; n++) {
    const length = der[offset + 1] ?? 0;
    const value = der.subarray(offset + 2, offset + 2 + length);
    const trimmed = value.subarray(Math.max(0, value.length - size));
    parts.push(Buffer.concat([Buffer.alloc(size - trimmed.length), trimmed]));
    offset += 2 + length;
  }
  return Buffer.concat(parts);
}

describe('OpenSSL reads the private keys keymint writes', () => {
  it.each([
    [['--crv', 'P-256'], /ASN1 OID: prime256v1/],
    [['--crv', 'P-384'], /ASN1 OID: secp384r1/],
    [['--crv', 'P-521'], /ASN1 OID: secp521r1/],
    [['--crv', 'secp256k1'], /ASN1 OID: secp256k1/],
    [['--kty', 'RSA'], /Private-Key: \(2048 bit, 2 primes\)/],
    [['--kty', 'RSA', '--size', '3072'], /Private-Key: \(3072 bit, 2 primes\)/],
    [['--kty', 'OKP', '--crv', 'Ed25519'], /ED25519 Private-Key/],
    [['--kty', 'OKP', '--crv', 'Ed448'], /ED448 Private-Key/],
    [['--kty', 'OKP', '--crv', 'X25519', '--use', 'enc'], /X25519 Private-Key/],
    [['--kty', 'OKP', '--crv', 'X448', '--use', 'enc'], /X448 Private-Key/],
  ] as [string[], RegExp][])(
    '%j: openssl pkey -check accepts it and derives the same public key',
    async (flags, text) => {
      const { dir, pub, priv } = await createPlain(flags);
      const { pubPem } = writePems(dir, pub, priv);
      expect(runTool('openssl', ['pkey', '-in', 'key.pem', '-noout', '-check'], { cwd: dir })).toMatch(/Key is valid/);
      expect(runTool('openssl', ['pkey', '-in', 'key.pem', '-noout', '-text'], { cwd: dir })).toMatch(text);
      expect(runTool('openssl', ['pkey', '-in', 'key.pem', '-pubout'], { cwd: dir })).toBe(pubPem);
    },
  );

  it('a damaged key fails the same check (the check can fail)', async () => {
    const { dir, pub, priv } = await createPlain(['--kty', 'RSA']);
    // d from another key: the RSA consistency check must refuse it.
    const other = await createPlain(['--kty', 'RSA']);
    writePems(dir, pub, priv);
    const bad = { ...priv, d: other.priv.d };
    writeFileSync(join(dir, 'bad.pem'), privateKeyOf(bad).export({ type: 'pkcs8', format: 'pem' }));
    expect(toolStatus('openssl', ['pkey', '-in', 'bad.pem', '-noout', '-check'], { cwd: dir }).status).not.toBe(0);
  });
});

describe('signatures made with keymint keys verify with openssl', () => {
  it.each([
    ['RS256', ['--kty', 'RSA'], 'sha256', []],
    ['RS512', ['--kty', 'RSA', '--alg', 'RS512'], 'sha512', []],
    [
      'PS256',
      ['--kty', 'RSA', '--alg', 'PS256'],
      'sha256',
      ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest'],
    ],
    ['ES256', ['--crv', 'P-256'], 'sha256', []],
    ['ES384', ['--crv', 'P-384'], 'sha384', []],
    ['ES512', ['--crv', 'P-521'], 'sha512', []],
  ] as [string, string[], string, string[]][])(
    '%s: a JWS made by panva/jose verifies with openssl dgst',
    async (alg, flags, hash, sigopts) => {
      const { dir, pub, priv } = await createPlain(flags);
      expect(pub.alg).toBe(alg);
      writePems(dir, pub, priv);
      const jws = await new CompactSign(new TextEncoder().encode('payload signed by a keymint key'))
        .setProtectedHeader({ alg, kid: pub.kid as string })
        .sign(await importJWK(priv, alg));
      const [header, payload, signature] = jws.split('.') as [string, string, string];
      writeFileSync(join(dir, 'data'), `${header}.${payload}`);
      const raw = decodeB64url(signature);
      writeFileSync(join(dir, 'sig'), alg.startsWith('ES') ? rsToDer(raw) : raw);
      const verify = ['dgst', `-${hash}`, '-verify', 'pub.pem', ...sigopts, '-signature', 'sig', 'data'];
      expect(runTool('openssl', verify, { cwd: dir })).toMatch(/Verified OK/);
      // The same check refuses other data: it can fail.
      writeFileSync(join(dir, 'data'), `${header}.${payload}x`);
      expect(toolStatus('openssl', verify, { cwd: dir }).status).not.toBe(0);
    },
  );

  it.each([
    ['RS256', ['--kty', 'RSA'], 'sha256'],
    ['ES256', ['--crv', 'P-256'], 'sha256'],
  ] as [string, string[], string][])(
    '%s: openssl signs with the keymint private key, panva/jose verifies with the public JWK',
    async (alg, flags, hash) => {
      const { dir, pub, priv } = await createPlain(flags);
      writePems(dir, pub, priv);
      const header = Buffer.from(JSON.stringify({ alg })).toString('base64url');
      const payload = Buffer.from('signed by openssl').toString('base64url');
      writeFileSync(join(dir, 'data'), `${header}.${payload}`);
      runTool('openssl', ['dgst', `-${hash}`, '-sign', 'key.pem', '-out', 'sig', 'data'], { cwd: dir });
      const der = readFileSync(join(dir, 'sig'));
      const signature = alg.startsWith('ES') ? derToRs(der, 32) : der;
      const { payload: verified } = await compactVerify(
        `${header}.${payload}.${signature.toString('base64url')}`,
        await importJWK(pub, alg),
      );
      expect(Buffer.from(verified).toString()).toBe('signed by openssl');
    },
  );

  it('ES256K (jose 6 has no secp256k1): an r||s signature converted to DER verifies with openssl dgst', async () => {
    const { dir, pub, priv } = await createPlain(['--crv', 'secp256k1']);
    expect(pub.alg).toBe('ES256K');
    writePems(dir, pub, priv);
    const data = Buffer.from('eyJhbGciOiJFUzI1NksifQ.c2VjcDI1Nmsx');
    const signature = nodeSign('sha256', data, { key: privateKeyOf(priv), dsaEncoding: 'ieee-p1363' });
    expect(signature).toHaveLength(64);
    writeFileSync(join(dir, 'data'), data);
    writeFileSync(join(dir, 'sig'), rsToDer(signature));
    expect(
      runTool('openssl', ['dgst', '-sha256', '-verify', 'pub.pem', '-signature', 'sig', 'data'], { cwd: dir }),
    ).toMatch(/Verified OK/);
    writeFileSync(join(dir, 'data'), Buffer.concat([data, Buffer.from('x')]));
    expect(
      toolStatus('openssl', ['dgst', '-sha256', '-verify', 'pub.pem', '-signature', 'sig', 'data'], { cwd: dir })
        .status,
    ).not.toBe(0);
  });

  it.each([['Ed448'], ['Ed25519']])('%s: a signature verifies with openssl pkeyutl -verify -rawin', async (crv) => {
    const { dir, pub, priv } = await createPlain(['--kty', 'OKP', '--crv', crv]);
    expect(pub.alg).toBe('EdDSA');
    writePems(dir, pub, priv);
    const data = Buffer.from(`signed with ${crv}`);
    writeFileSync(join(dir, 'data'), data);
    writeFileSync(join(dir, 'sig'), nodeSign(null, data, privateKeyOf(priv)));
    const verify = ['pkeyutl', '-verify', '-rawin', '-pubin', '-inkey', 'pub.pem', '-in', 'data', '-sigfile', 'sig'];
    expect(runTool('openssl', verify, { cwd: dir })).toMatch(/Signature Verified Successfully/);
    writeFileSync(join(dir, 'data'), Buffer.concat([data, Buffer.from('x')]));
    expect(toolStatus('openssl', verify, { cwd: dir }).status).not.toBe(0);
  });

  it('HS256: the oct key gives the same HMAC in openssl as in panva/jose', async () => {
    const { dir, pub } = await createPlain(['--kty', 'oct']);
    const key = decodeB64url(pub.k as string);
    expect(key).toHaveLength(32);
    const jws = await new CompactSign(new TextEncoder().encode('mac me'))
      .setProtectedHeader({ alg: 'HS256' })
      .sign(await importJWK(pub, 'HS256'));
    const [header, payload, signature] = jws.split('.') as [string, string, string];
    writeFileSync(join(dir, 'data'), `${header}.${payload}`);
    const out = runTool(
      'openssl',
      ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${key.toString('hex')}`, '-binary', '-out', 'mac', 'data'],
      { cwd: dir },
    );
    expect(out).toBe('');
    expect(readFileSync(join(dir, 'mac')).toString('base64url')).toBe(signature);
    expect(createHmac('sha256', key).update(`${header}.${payload}`).digest('base64url')).toBe(signature);
  });
});

describe('thumbprints agree with the jose C tool (EC and RSA)', () => {
  it.each([
    [['--crv', 'P-256']],
    [['--crv', 'P-384']],
    [['--crv', 'P-521']],
    [['--crv', 'secp256k1']],
    [['--kty', 'RSA']],
    [['--kty', 'RSA', '--use', 'enc']],
  ])('%j: kid = jose jwk thp of the public and of the private file', async (flags) => {
    const dir = tempDir();
    const result = await keymint(
      ['create', '--json', '--no-password', '--insecure', ...flags, 'key.pub.json', 'key.json'],
      { cwd: dir },
    );
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as { kid: string; thumbprint: string; thumbprintUri: string };
    const fromPublic = runTool('jose', ['jwk', 'thp', '-i', 'key.pub.json', '-a', 'S256'], { cwd: dir }).trim();
    const fromPrivate = runTool('jose', ['jwk', 'thp', '-i', 'key.json', '-a', 'S256'], { cwd: dir }).trim();
    expect(fromPublic).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(json.thumbprint).toBe(fromPublic);
    expect(json.kid).toBe(fromPublic);
    expect(fromPrivate).toBe(fromPublic);
    expect(readJson<Jwk>(join(dir, 'key.pub.json')).kid).toBe(fromPublic);
    expect(json.thumbprintUri).toBe(`urn:ietf:params:oauth:jwk-thumbprint:sha-256:${fromPublic}`);
  });

  it('a --kid does not change the thumbprint', async () => {
    const dir = tempDir();
    const result = await keymint(
      ['create', '--json', '--no-password', '--insecure', '--kid', 'named', 'key.pub.json', 'key.json'],
      { cwd: dir },
    );
    const json = JSON.parse(result.stdout) as { kid: string; thumbprint: string };
    expect(json.kid).toBe('named');
    expect(json.thumbprint).toBe(
      runTool('jose', ['jwk', 'thp', '-i', 'key.pub.json', '-a', 'S256'], { cwd: dir }).trim(),
    );
  });
});

/** Decrypts with Python cryptography and checks, in Python, that the private key matches the public one. */
const PYTHON_PAIR_CHECK = `
import base64, json, sys
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives import serialization
d = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
n = lambda s: int.from_bytes(d(s), "big")
jwk = json.load(sys.stdin)
if jwk["kty"] == "EC":
    curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}[jwk["crv"]]
    pub = ec.derive_private_key(n(jwk["d"]), curve).public_key().public_numbers()
    ok = pub.x == n(jwk["x"]) and pub.y == n(jwk["y"])
elif jwk["kty"] == "RSA":
    p, q, e, dd = n(jwk["p"]), n(jwk["q"]), n(jwk["e"]), n(jwk["d"])
    ok = p * q == n(jwk["n"]) and pow(pow(12345, e, p * q), dd, p * q) == 12345
    ok = ok and rsa.rsa_crt_iqmp(p, q) == n(jwk["qi"]) and rsa.rsa_crt_dmp1(dd, p) == n(jwk["dp"])
elif jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519":
    raw = ed25519.Ed25519PrivateKey.from_private_bytes(d(jwk["d"])).public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    ok = raw == d(jwk["x"])
else:
    ok = None
print(json.dumps(ok))
`;

describe('Python cryptography decrypts keymint private files', () => {
  it.each([
    [['--crv', 'P-256'], '1000'],
    [['--crv', 'P-521'], '1000'],
    [['--kty', 'RSA'], '1000'],
    [['--kty', 'OKP'], '1000'],
    [['--kty', 'oct'], '1000'],
    [['--crv', 'P-384'], '600000'],
  ] as [string[], string][])(
    '%j with p2c %s: same JWK as panva/jose, and the key pair matches in Python',
    async (flags, count) => {
      const dir = tempDir();
      const pass = passwordFile(dir);
      const result = await keymint(
        ['create', '--pbes2-count', count, '--password-file', pass, ...flags, 'key.pub.json', 'key.json'],
        { cwd: dir },
      );
      expect(result.code, result.stderr).toBe(0);
      expect(protectedHeader(join(dir, 'key.json')).p2c).toBe(Number(count));
      const fromPython = decryptWithPython(readFileSync(join(dir, 'key.json')), PASSWORD);
      expect(fromPython).toEqual(await decryptWithJose(join(dir, 'key.json'), PASSWORD));
      const pub = readJson<Jwk>(join(dir, 'key.pub.json'));
      if (pub.kty === 'oct') {
        expect(fromPython).toEqual(pub);
        return;
      }
      for (const [name, value] of Object.entries(pub)) expect(fromPython[name]).toEqual(value);
      expect(JSON.parse(runTool(PYTHON, ['-c', PYTHON_PAIR_CHECK], { input: JSON.stringify(fromPython) }))).toBe(true);
    },
  );

  it('Python refuses a wrong password (the check can fail)', async () => {
    const dir = tempDir();
    const pass = passwordFile(dir);
    expect(
      (await keymint(['create', ...FAST, '--password-file', pass, 'key.pub.json', 'key.json'], { cwd: dir })).code,
    ).toBe(0);
    expect(() => decryptWithPython(readFileSync(join(dir, 'key.json')), `${PASSWORD}!`)).toThrow();
  });
});
