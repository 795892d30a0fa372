import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, runTool } from '@keymint/test-kit';
import {
  FAST,
  PASSWORD,
  bitsOf,
  decodeB64url,
  decryptWithJose,
  expectFailure,
  expectKeyPair,
  keymint,
  listDir,
  modeOf,
  privateMembersIn,
  publicPart,
  readJson,
  rfc7638,
  tempDirWith,
  writeFile,
  type Jwk,
  type RunResult,
} from './helpers.js';

/** PEM inputs made once with openssl and ssh-keygen; each test copies what it needs. */
let pems: string;

beforeAll(() => {
  pems = mkdtempSync(join(tmpdir(), 'keymint-e2e-from-pem-'));
  const sh = (command: string) => runTool('/bin/sh', ['-c', command], { cwd: pems });
  sh('openssl ecparam -name secp384r1 -genkey -noout -out ec-sec1.key');
  sh('openssl ecparam -name secp256k1 -genkey -noout -out k1-sec1.key');
  sh('openssl genpkey -algorithm ed25519 -out ed25519.key');
  sh('openssl genpkey -algorithm ed448 -out ed448.key');
  sh('openssl genpkey -algorithm x25519 -out x25519.key');
  sh('openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out p256.key');
  sh('openssl pkcs8 -topk8 -v2 aes-256-cbc -in p256.key -passout pass:pem-secret -out p256-encrypted.key');
  sh('openssl genrsa -out rsa.key 2048 2>/dev/null');
  sh('openssl rsa -in rsa.key -aes256 -traditional -passout pass:pem-secret -out rsa-legacy-encrypted.key 2>/dev/null');
  sh('ssh-keygen -q -t ed25519 -N "" -C test -f id_ed25519');
  sh('ssh-keygen -q -t ecdsa -b 256 -N "" -C test -f id_ecdsa');
  sh('ssh-keygen -q -t rsa -b 2048 -N "" -C test -f id_rsa');
  sh('ssh-keygen -q -t ed25519 -N ssh-secret -C test -f id_ed25519_encrypted');
  sh(
    'openssl req -x509 -new -key p256.key -subj /CN=sig -days 30 -addext keyUsage=critical,digitalSignature -out cert-sig.pem',
  );
  sh(
    'openssl req -x509 -new -key rsa.key -subj /CN=enc -days 30 -addext keyUsage=critical,keyEncipherment -out cert-enc.pem',
  );
  sh(
    'openssl req -x509 -new -key p256.key -subj /CN=both -days 30 -addext keyUsage=critical,digitalSignature,keyAgreement -out cert-both.pem',
  );
  sh('openssl req -x509 -new -key p256.key -subj /CN=none -days 30 -out cert-no-key-usage.pem');
});

afterAll(() => rmSync(pems, { recursive: true, force: true }));

/** A temp dir with pass.txt and copies of the named inputs. */
const dirWith = (...names: string[]): string => tempDirWith(pems, names);

function sh(dir: string, command: string): string {
  return runTool('/bin/sh', ['-c', command], { cwd: dir });
}

/** The JWKs Node's own parser gets from a PEM file (the reference the output is compared to). */
function nodeJwks(path: string, passphrase?: string): { pub: Jwk; priv: Jwk | undefined } {
  const text = readFileSync(path, 'utf8');
  let key: KeyObject;
  try {
    key = createPrivateKey(passphrase === undefined ? text : { key: text, passphrase });
  } catch {
    key = createPublicKey(text);
  }
  const pub = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' }) as Jwk;
  return { pub, priv: key.type === 'private' ? (key.export({ format: 'jwk' }) as Jwk) : undefined };
}

/** Runs `create --from-pem` with a password file and checks the key pair against Node's reading of the PEM. */
async function fromPem(
  dir: string,
  input: string,
  flags: readonly string[] = [],
  reference = join(dir, input),
  passphrase?: string,
) {
  const result = await keymint(
    ['create', ...FAST, '--password-file', 'pass.txt', '--from-pem', input, ...flags, 'k.pub', 'k.json'],
    { cwd: dir },
  );
  expectOk(result);
  const pub = readJson<Jwk>(join(dir, 'k.pub'));
  const priv = await decryptWithJose(join(dir, 'k.json'), PASSWORD);
  const expected = nodeJwks(reference, passphrase);
  expect(pub).toMatchObject(expected.pub);
  expect(priv).toMatchObject(expected.priv ?? {});
  expect(privateMembersIn(pub)).toEqual([]);
  expect(publicPart(priv)).toEqual(pub);
  expect(modeOf(join(dir, 'k.json'))).toBe(0o600);
  expect(modeOf(join(dir, 'k.pub'))).toBe(0o644);
  return { result, pub, priv };
}

/** Runs `create --from-pem` on a public input: only the public file, and stderr says so. */
async function fromPublicPem(
  dir: string,
  input: string,
  flags: readonly string[] = [],
): Promise<{ result: RunResult; pub: Jwk }> {
  const before = listDir(dir);
  const result = await keymint(['create', '--from-pem', input, ...flags, 'k.pub', 'k.json'], { cwd: dir });
  expectOk(result);
  expect(existsSync(join(dir, 'k.json')), 'the private path is not written').toBe(false);
  expect(listDir(dir)).toEqual([...before, 'k.pub'].sort());
  expect(result.stderr).toMatch(/only a public key: k\.json was not written/);
  const pub = readJson<Jwk>(join(dir, 'k.pub'));
  expect(privateMembersIn(pub)).toEqual([]);
  expect(modeOf(join(dir, 'k.pub'))).toBe(0o644);
  return { result, pub };
}

describe('the exact commands of the issue (RSA 4096, once each)', () => {
  it('openssl genrsa -out private.key 4096, then openssl rsa -pubout', async () => {
    const dir = dirWith();
    sh(dir, 'openssl genrsa -out private.key 4096');
    sh(dir, 'openssl rsa -in private.key -pubout -outform PEM -out public.key');
    const { pub, priv } = await fromPem(dir, 'private.key');
    expect(bitsOf(pub.n as string)).toBe(4096);
    expect(pub).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: rfc7638(pub) });
    expect(priv.kid).toBe(pub.kid);

    const pubDir = dirWith();
    copyFileSync(join(dir, 'public.key'), join(pubDir, 'public.key'));
    const fromPublic = await fromPublicPem(pubDir, 'public.key');
    expect(fromPublic.pub).toEqual(pub);
  });

  it('ssh-keygen -t rsa -b 4096 -m PEM, then ssh-keygen -e -m PKCS8 > public.key', async () => {
    const dir = dirWith();
    sh(dir, "ssh-keygen -t rsa -b 4096 -m PEM -N '' -f private.key");
    sh(dir, 'ssh-keygen -f private.key -e -m PKCS8 > public.key');
    expect(readFileSync(join(dir, 'private.key'), 'utf8')).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    const { pub } = await fromPem(dir, 'private.key');
    expect(bitsOf(pub.n as string)).toBe(4096);

    const pubDir = dirWith();
    copyFileSync(join(dir, 'public.key'), join(pubDir, 'public.key'));
    const fromPublic = await fromPublicPem(pubDir, 'public.key');
    expect(fromPublic.pub).toEqual(pub);
  });
});

describe('--from-pem RSA (2048)', () => {
  it('openssl genrsa (PKCS#8 "PRIVATE KEY") and its openssl rsa -pubout public key', async () => {
    const dir = dirWith();
    sh(dir, 'openssl genrsa -out private.key 2048');
    sh(dir, 'openssl rsa -in private.key -pubout -outform PEM -out public.key');
    expect(readFileSync(join(dir, 'private.key'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const { pub } = await fromPem(dir, 'private.key');
    expect(bitsOf(pub.n as string)).toBe(2048);
    const pubDir = dirWith();
    copyFileSync(join(dir, 'public.key'), join(pubDir, 'public.key'));
    expect((await fromPublicPem(pubDir, 'public.key')).pub).toEqual(pub);
  });

  it('ssh-keygen -m PEM (PKCS#1 "RSA PRIVATE KEY") and ssh-keygen -e -m PKCS8', async () => {
    const dir = dirWith();
    sh(dir, "ssh-keygen -t rsa -b 2048 -m PEM -N '' -f private.key");
    sh(dir, 'ssh-keygen -f private.key -e -m PKCS8 > public.key');
    const { pub } = await fromPem(dir, 'private.key');
    const pubDir = dirWith();
    copyFileSync(join(dir, 'public.key'), join(pubDir, 'public.key'));
    expect((await fromPublicPem(pubDir, 'public.key')).pub).toEqual(pub);
  });

  it('a PKCS#1 "RSA PUBLIC KEY"', async () => {
    const dir = dirWith('rsa.key');
    sh(dir, 'openssl rsa -in rsa.key -RSAPublicKey_out -out rsa-pkcs1.pub 2>/dev/null');
    expect(readFileSync(join(dir, 'rsa-pkcs1.pub'), 'utf8')).toMatch(/^-----BEGIN RSA PUBLIC KEY-----/);
    const { pub } = await fromPublicPem(dir, 'rsa-pkcs1.pub');
    expect(pub).toMatchObject(nodeJwks(join(dir, 'rsa.key')).pub);
  });

  it('the OAuth client case: --use sig --alg RS256 --kid client-1', async () => {
    const dir = dirWith('rsa.key');
    const { pub, priv } = await fromPem(dir, 'rsa.key', ['--use', 'sig', '--alg', 'RS256', '--kid', 'client-1']);
    expect(pub).toMatchObject({ kty: 'RSA', kid: 'client-1', use: 'sig', alg: 'RS256' });
    expect(priv).toMatchObject({ kid: 'client-1', use: 'sig', alg: 'RS256' });
  });

  it('the OAuth client case from the public key: only the public JWK, with kid client-1', async () => {
    const dir = dirWith('rsa.key');
    sh(dir, 'openssl rsa -in rsa.key -pubout -out public.key 2>/dev/null');
    const { pub } = await fromPublicPem(dir, 'public.key', ['--use', 'sig', '--alg', 'RS256', '--kid', 'client-1']);
    expect(pub).toMatchObject({
      ...nodeJwks(join(dir, 'rsa.key')).pub,
      kty: 'RSA',
      kid: 'client-1',
      use: 'sig',
      alg: 'RS256',
    });
  });

  it('--use enc gives RSA-OAEP-256; --alg PS256 is kept', async () => {
    const enc = await fromPem(dirWith('rsa.key'), 'rsa.key', ['--use', 'enc']);
    expect(enc.pub).toMatchObject({ use: 'enc', alg: 'RSA-OAEP-256' });
    const ps = await fromPem(dirWith('rsa.key'), 'rsa.key', ['--alg', 'PS256']);
    expect(ps.pub).toMatchObject({ use: 'sig', alg: 'PS256' });
  });

  it('--kty RSA and a matching --size are accepted', async () => {
    const { pub } = await fromPem(dirWith('rsa.key'), 'rsa.key', ['--kty', 'RSA', '--size', '2048']);
    expect(pub.kty).toBe('RSA');
  });

  it('a legacy Proc-Type encrypted PEM with --pem-password-file', async () => {
    const dir = dirWith('rsa-legacy-encrypted.key', 'rsa.key');
    writeFile(dir, 'pem-pass.txt', 'pem-secret\n');
    expect(readFileSync(join(dir, 'rsa-legacy-encrypted.key'), 'utf8')).toMatch(/Proc-Type: 4,ENCRYPTED/);
    await fromPem(dir, 'rsa-legacy-encrypted.key', ['--pem-password-file', 'pem-pass.txt'], join(dir, 'rsa.key'));
  });

  it('the --json result for a public PEM: files.private is null', async () => {
    const dir = dirWith('rsa.key');
    sh(dir, 'openssl rsa -in rsa.key -pubout -out public.key 2>/dev/null');
    const result = await keymint(['create', '--json', '--from-pem', 'public.key', 'k.pub', 'k.json'], { cwd: dir });
    expectOk(result);
    const json = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ files: { public: 'k.pub', private: null }, publicJwk: readJson(join(dir, 'k.pub')) });
    expect(existsSync(join(dir, 'k.json'))).toBe(false);
  });
});

describe('--from-pem input forms', () => {
  it('standard input (--from-pem -)', async () => {
    const dir = dirWith('p256.key');
    const result = await keymint(
      ['create', ...FAST, '--password-file', 'pass.txt', '--from-pem', '-', 'k.pub', 'k.json'],
      {
        cwd: dir,
        input: readFileSync(join(dir, 'p256.key'), 'utf8'),
      },
    );
    expectOk(result);
    expect(readJson<Jwk>(join(dir, 'k.pub'))).toMatchObject(nodeJwks(join(dir, 'p256.key')).pub);
  });

  it('CRLF line endings', async () => {
    const dir = dirWith('p256.key');
    writeFile(dir, 'crlf.key', readFileSync(join(dir, 'p256.key'), 'utf8').replace(/\n/g, '\r\n'));
    await fromPem(dir, 'crlf.key', [], join(dir, 'p256.key'));
  });

  it('a certificate with openssl x509 -text output around it', async () => {
    const dir = dirWith('cert-sig.pem');
    sh(dir, 'openssl x509 -in cert-sig.pem -text > cert-text.pem');
    expect(readFileSync(join(dir, 'cert-text.pem'), 'utf8')).toMatch(/^Certificate:/);
    const { pub } = await fromPublicPem(dir, 'cert-text.pem');
    expect(pub).toMatchObject({ kty: 'EC', use: 'sig' });
  });
});

describe('--from-pem EC and OKP', () => {
  it('an EC SEC1 "EC PRIVATE KEY" (P-384): ES384', async () => {
    const dir = dirWith('ec-sec1.key');
    expect(readFileSync(join(dir, 'ec-sec1.key'), 'utf8')).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
    const { pub } = await fromPem(dir, 'ec-sec1.key');
    expect(pub).toMatchObject({ kty: 'EC', crv: 'P-384', alg: 'ES384', use: 'sig', kid: rfc7638(pub) });
  });

  it('an EC SEC1 secp256k1 key: ES256K', async () => {
    const { pub } = await fromPem(dirWith('k1-sec1.key'), 'k1-sec1.key');
    expect(pub).toMatchObject({ kty: 'EC', crv: 'secp256k1', alg: 'ES256K' });
  });

  it('an EC key with --use enc: ECDH-ES', async () => {
    const { pub } = await fromPem(dirWith('ec-sec1.key'), 'ec-sec1.key', ['--use', 'enc']);
    expect(pub).toMatchObject({ crv: 'P-384', use: 'enc', alg: 'ECDH-ES' });
  });

  it('an Ed25519 PKCS#8 key: EdDSA', async () => {
    const dir = dirWith('ed25519.key');
    expect(readFileSync(join(dir, 'ed25519.key'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const { pub } = await fromPem(dir, 'ed25519.key');
    expect(pub).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig', kid: rfc7638(pub) });
  });

  it('an Ed448 PKCS#8 key with --kid', async () => {
    const { pub } = await fromPem(dirWith('ed448.key'), 'ed448.key', ['--kid', 'ed448-key']);
    expect(pub).toMatchObject({ kty: 'OKP', crv: 'Ed448', alg: 'EdDSA', kid: 'ed448-key' });
  });

  it('an X25519 PKCS#8 key with --use enc: ECDH-ES', async () => {
    const { pub } = await fromPem(dirWith('x25519.key'), 'x25519.key', ['--use', 'enc']);
    expect(pub).toMatchObject({ kty: 'OKP', crv: 'X25519', alg: 'ECDH-ES', use: 'enc' });
  });

  it('an encrypted PKCS#8 key with --pem-password-file (trailing newline trimmed)', async () => {
    const dir = dirWith('p256-encrypted.key', 'p256.key');
    writeFile(dir, 'pem-pass.txt', 'pem-secret\n');
    expect(readFileSync(join(dir, 'p256-encrypted.key'), 'utf8')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    const { pub } = await fromPem(
      dir,
      'p256-encrypted.key',
      ['--pem-password-file', 'pem-pass.txt'],
      join(dir, 'p256.key'),
    );
    expect(pub).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
  });

  it('a public EC key from openssl pkey -pubout', async () => {
    const dir = dirWith('ec-sec1.key');
    sh(dir, 'openssl pkey -in ec-sec1.key -pubout -out ec.pub');
    const { pub } = await fromPublicPem(dir, 'ec.pub');
    expect(pub).toMatchObject({ ...nodeJwks(join(dir, 'ec-sec1.key')).pub, alg: 'ES384', kid: rfc7638(pub) });
  });
});

describe('--from-pem OpenSSH keys (ssh-keygen default format)', () => {
  /** ssh-keygen converts RSA and ECDSA keys to PKCS#8 itself: the reference for what keymint read. */
  function sshReference(dir: string, name: string): string {
    copyFileSync(join(dir, name), join(dir, `${name}.ref`));
    sh(dir, `ssh-keygen -q -p -P '' -N '' -m PKCS8 -f ${name}.ref`);
    return join(dir, `${name}.ref`);
  }

  /** ssh-keygen cannot write Ed25519 as PKCS#8: its public key line ends with the 32-byte key. */
  function sshEd25519PublicX(dir: string, name: string, passphrase = ''): string {
    const line = sh(dir, `ssh-keygen -y -P '${passphrase}' -f ${name}`);
    const blob = Buffer.from(line.split(' ')[1] ?? '', 'base64');
    expect(blob.subarray(4, 15).toString()).toBe('ssh-ed25519');
    return blob.subarray(blob.length - 32).toString('base64url');
  }

  async function fromSshEd25519(dir: string, name: string, flags: readonly string[] = []) {
    const result = await keymint(
      ['create', ...FAST, '--password-file', 'pass.txt', '--from-pem', name, ...flags, 'k.pub', 'k.json'],
      { cwd: dir },
    );
    expectOk(result);
    const pub = readJson<Jwk>(join(dir, 'k.pub'));
    const priv = await decryptWithJose(join(dir, 'k.json'), PASSWORD);
    expect(publicPart(priv)).toEqual(pub);
    expectKeyPair(priv, pub);
    return { pub, priv };
  }

  it('Ed25519', async () => {
    const dir = dirWith('id_ed25519');
    expect(readFileSync(join(dir, 'id_ed25519'), 'utf8')).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    const { pub, priv } = await fromSshEd25519(dir, 'id_ed25519');
    expect(pub).toMatchObject({
      kty: 'OKP',
      crv: 'Ed25519',
      alg: 'EdDSA',
      use: 'sig',
      kid: rfc7638(pub),
      x: sshEd25519PublicX(dir, 'id_ed25519'),
    });
    expect(decodeB64url(priv.d as string)).toHaveLength(32);
  });

  it('ECDSA P-256', async () => {
    const dir = dirWith('id_ecdsa');
    const { pub } = await fromPem(dir, 'id_ecdsa', [], sshReference(dir, 'id_ecdsa'));
    expect(pub).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
  });

  it('RSA, with every private member', async () => {
    const dir = dirWith('id_rsa');
    const { pub, priv } = await fromPem(dir, 'id_rsa', [], sshReference(dir, 'id_rsa'));
    expect(pub).toMatchObject({ kty: 'RSA', alg: 'RS256' });
    expect(privateMembersIn(priv).sort()).toEqual(['d', 'dp', 'dq', 'p', 'q', 'qi']);
  });

  it('an encrypted Ed25519 key with --pem-password-file', async () => {
    const dir = dirWith('id_ed25519_encrypted');
    writeFile(dir, 'pem-pass.txt', 'ssh-secret\n');
    const { pub } = await fromSshEd25519(dir, 'id_ed25519_encrypted', ['--pem-password-file', 'pem-pass.txt']);
    expect(pub).toMatchObject({ crv: 'Ed25519', x: sshEd25519PublicX(dir, 'id_ed25519_encrypted', 'ssh-secret') });
  });

  it('a one-line OpenSSH public key (.pub)', async () => {
    const dir = dirWith('id_ed25519.pub', 'id_ed25519');
    const { pub } = await fromPublicPem(dir, 'id_ed25519.pub');
    expect(pub).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', x: sshEd25519PublicX(dir, 'id_ed25519') });
  });
});

describe('--from-pem certificates', () => {
  it('keyUsage digitalSignature: use sig, x5c holds the certificate, only the public file', async () => {
    const dir = dirWith('cert-sig.pem', 'p256.key');
    const { pub } = await fromPublicPem(dir, 'cert-sig.pem');
    expect(pub).toMatchObject({
      ...nodeJwks(join(dir, 'p256.key')).pub,
      kty: 'EC',
      crv: 'P-256',
      use: 'sig',
      alg: 'ES256',
      kid: rfc7638(pub),
    });
    const der = readFileSync(join(dir, 'cert-sig.pem'), 'utf8')
      .replace(/-----[^-]+-----/g, '')
      .replace(/\s/g, '');
    expect(pub.x5c).toEqual([der]);
    expect(
      Buffer.from(der, 'base64').equals(
        Buffer.from(sh(dir, 'openssl x509 -in cert-sig.pem -outform DER | base64 -w0'), 'base64'),
      ),
    ).toBe(true);
  });

  it('keyUsage keyEncipherment on an RSA certificate: use enc, RSA-OAEP-256', async () => {
    const dir = dirWith('cert-enc.pem');
    const { pub } = await fromPublicPem(dir, 'cert-enc.pem');
    expect(pub).toMatchObject({ kty: 'RSA', use: 'enc', alg: 'RSA-OAEP-256' });
    expect(pub.x5c).toHaveLength(1);
  });

  it('--use that agrees with the certificate is accepted', async () => {
    const { pub } = await fromPublicPem(dirWith('cert-sig.pem'), 'cert-sig.pem', ['--use', 'sig']);
    expect(pub.use).toBe('sig');
  });

  it('a certificate whose key usage is ambiguous, with --subtle --use enc: use enc', async () => {
    const { pub } = await fromPublicPem(dirWith('cert-both.pem'), 'cert-both.pem', ['--subtle', '--use', 'enc']);
    expect(pub).toMatchObject({ use: 'enc', alg: 'ECDH-ES' });
  });

  it('a certificate whose key usage is ambiguous needs --subtle, and then takes --use (default sig)', async () => {
    const dir = dirWith('cert-both.pem');
    const refusal = await keymint(['create', '--from-pem', 'cert-both.pem', 'k.pub', 'k.json'], { cwd: dir });
    expect(refusal.code).toBe(9);
    expect(refusal.stderr).toMatch(/give --subtle, with --use sig or --use enc \(default sig\)/);
    const { pub } = await fromPublicPem(dir, 'cert-both.pem', ['--subtle']);
    expect(pub.x5c).toHaveLength(1);
    expect(pub.use).toBe('sig');
    expect(pub.alg).toBe('ES256');
    const enc = await fromPublicPem(dirWith('cert-both.pem'), 'cert-both.pem', ['--subtle', '--use', 'enc']);
    expect(enc.pub.use).toBe('enc');
    expect(enc.pub.alg).toBe('ECDH-ES');
  });
});

describe('--from-pem conflicts and refusals', () => {
  it.each([
    ['--kty EC with an RSA key', 'rsa.key', ['--kty', 'EC'], 3, [/--kty EC/, /RSA/]],
    ['--kty OKP with an EC key', 'ec-sec1.key', ['--kty', 'OKP'], 3, [/--kty OKP/, /EC/]],
    ['--kty oct with an RSA key', 'rsa.key', ['--kty', 'oct'], 3, [/--kty oct/, /RSA/]],
    ['--crv P-256 with a P-384 key', 'ec-sec1.key', ['--crv', 'P-256'], 3, [/--crv P-256/, /P-384/]],
    ['--crv Ed448 with an Ed25519 key', 'ed25519.key', ['--crv', 'Ed448'], 3, [/--crv Ed448/, /Ed25519/]],
    ['--crv with an RSA key', 'rsa.key', ['--crv', 'P-256'], 3, [/--crv/, /--kty RSA/, /only EC and OKP/]],
    ['--size 4096 with a 2048-bit key', 'rsa.key', ['--size', '4096'], 3, [/--size 4096/, /2048/]],
    ['--size with an EC key', 'ec-sec1.key', ['--size', '384'], 3, [/--size/, /--kty EC/, /curve sets the size/]],
    ['--size with an OKP key', 'ed25519.key', ['--size', '256'], 3, [/--size/, /--kty OKP/]],
    ['--alg ES256 with an RSA key', 'rsa.key', ['--alg', 'ES256'], 3, [/--alg "ES256"/, /RS256/]],
    ['--alg ES256 with a P-384 key', 'ec-sec1.key', ['--alg', 'ES256'], 3, [/--alg "ES256"/, /ES384/]],
    ['RSA1_5 without --subtle', 'rsa.key', ['--use', 'enc', '--alg', 'RSA1_5'], 3, [/RSA1_5/, /--subtle/]],
    ['Ed25519 with --use enc', 'ed25519.key', ['--use', 'enc'], 3, [/Ed25519/, /cannot encrypt/]],
    ['X25519 with the default use sig', 'x25519.key', [], 3, [/X25519/, /--use enc/]],
    [
      '--use enc against a signing certificate',
      'cert-sig.pem',
      ['--use', 'enc'],
      3,
      [/--use enc/, /certificate/, /sig/],
    ],
    [
      'a certificate with both signing and key agreement',
      'cert-both.pem',
      [],
      9,
      [/cert-both\.pem/, /both signing/, /--subtle/],
    ],
    [
      'a certificate with no KeyUsage',
      'cert-no-key-usage.pem',
      [],
      9,
      [/cert-no-key-usage\.pem/, /no KeyUsage/, /--subtle/],
    ],
  ] as [string, string, string[], number, RegExp[]][])(
    '%s (%s %j: exit %i)',
    async (_name, input, flags, code, patterns) => {
      const dir = dirWith(input);
      await expectFailure(
        dir,
        ['create', ...FAST, '--password-file', 'pass.txt', '--from-pem', input, ...flags, 'k.pub', 'k.json'],
        code,
        patterns,
      );
    },
  );

  it('an RSA key below 2048 bits needs --insecure', async () => {
    const dir = dirWith();
    sh(dir, 'openssl genrsa -out small.key 1024 2>/dev/null');
    await expectFailure(
      dir,
      ['create', ...FAST, '--password-file', 'pass.txt', '--from-pem', 'small.key', 'k.pub', 'k.json'],
      3,
      [/--size 1024/, /--insecure/],
    );
    const ok = await keymint(
      ['create', ...FAST, '--password-file', 'pass.txt', '--insecure', '--from-pem', 'small.key', 'k.pub', 'k.json'],
      { cwd: dir },
    );
    expectOk(ok);
    expect(bitsOf(readJson<Jwk>(join(dir, 'k.pub')).n as string)).toBe(1024);
  });

  it('a DSA key: exit 4 (not supported)', async () => {
    const dir = dirWith();
    sh(dir, 'openssl genpkey -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:1024 -out dsa.params 2>/dev/null');
    sh(dir, 'openssl genpkey -paramfile dsa.params -out dsa.key');
    rmSync(join(dir, 'dsa.params'));
    await expectFailure(
      dir,
      ['create', ...FAST, '--password-file', 'pass.txt', '--from-pem', 'dsa.key', 'k.pub', 'k.json'],
      4,
      [/dsa\.key/, /DSA/, /RSA, EC/],
    );
  });
});
