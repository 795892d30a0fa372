import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTool } from './tools.js';

/** Debian's Python: it has the `cryptography` package the JWE scripts use. */
export const PYTHON = '/usr/bin/python3';

/** The script that encrypts a JWK under a password as step does, with Python's cryptography. */
export const MAKE_PBES2_JWE = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'make-pbes2-jwe.py');

export interface Pbes2JweOptions {
  /** compact, flattened or general. */
  form: string;
  /** PBES2-HS256+A128KW (default), PBES2-HS384+A192KW or PBES2-HS512+A256KW. */
  alg?: string;
  /** A128GCM ... A256GCM, A128CBC-HS256 ... A256CBC-HS512. */
  enc: string;
  p2c: number;
  password: string;
  /** Leave out the cty header, as older step files do. */
  cty?: boolean;
}

/**
 * A JWK encrypted under a password by Python's cryptography (fixtures/make-pbes2-jwe.py): a JWE
 * made by neither keymint nor jose. `flattened` + A256GCM + 600000 is step today; `compact` +
 * A128GCM + 100000 without cty is older step.
 * @example pythonPbes2Jwe(jwk, { form: 'compact', enc: 'A128GCM', p2c: 100_000, password, cty: false })
 */
export function pythonPbes2Jwe(jwk: unknown, options: Pbes2JweOptions): string {
  const { form, alg = 'PBES2-HS256+A128KW', enc, p2c, password } = options;
  const args = [MAKE_PBES2_JWE, form, alg, enc, String(p2c), password, ...(options.cty === false ? ['nocty'] : [])];
  return runTool(PYTHON, args, { input: JSON.stringify(jwk) });
}

// PBES2 + AES key unwrap + AES-GCM (RFC 7518 §4.8, §4.4, §5.3) in Python's cryptography: a third
// implementation next to keymint's and jose's. It takes only what keymint writes.
const PYTHON_DECRYPT = `
import base64, json, sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
d = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
jwe = json.load(sys.stdin)
h = json.loads(d(jwe["protected"]))
assert h["alg"] == "PBES2-HS256+A128KW" and h["enc"] == "A256GCM", h
kek = PBKDF2HMAC(hashes.SHA256(), 16, h["alg"].encode() + b"\\0" + d(h["p2s"]), h["p2c"]).derive(sys.argv[1].encode())
cek = aes_key_unwrap(kek, d(jwe["encrypted_key"]))
print(AESGCM(cek).decrypt(d(jwe["iv"]), d(jwe["ciphertext"]) + d(jwe["tag"]), jwe["protected"].encode()).decode())
`;

/**
 * Decrypts a flattened JWE as keymint writes it (PBES2-HS256+A128KW, A256GCM) with Python's
 * cryptography, and returns the plaintext JSON parsed.
 * @throws Error when Python fails: another header, a wrong password, a changed file
 */
export function decryptWithPython(jwe: string | Uint8Array, password: string): Record<string, unknown> {
  return JSON.parse(runTool(PYTHON, ['-c', PYTHON_DECRYPT, password], { input: jwe })) as Record<string, unknown>;
}

// RFC 7638 §3 written out once more, in Python: SHA-x over the required members, sorted, no spaces.
const PYTHON_THUMBPRINT = `
import base64, hashlib, json, sys
jwk = json.load(sys.stdin)
required = {"EC": ["crv", "kty", "x", "y"], "RSA": ["e", "kty", "n"], "OKP": ["crv", "kty", "x"], "oct": ["k", "kty"]}[jwk["kty"]]
canonical = json.dumps({m: jwk[m] for m in required}, separators=(",", ":"), sort_keys=True)
print(base64.urlsafe_b64encode(hashlib.new(sys.argv[1], canonical.encode()).digest()).rstrip(b"=").decode())
`;

/**
 * The RFC 7638 thumbprint of a JWK computed by Python, a third implementation.
 * @example pythonThumbprint(publicJwk, 'sha384')
 */
export function pythonThumbprint(jwk: unknown, hash = 'sha256'): string {
  return runTool(PYTHON, ['-c', PYTHON_THUMBPRINT, hash], { input: JSON.stringify(jwk) }).trim();
}
