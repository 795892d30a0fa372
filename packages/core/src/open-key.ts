import type { KeyBackend, PrivatePart } from './backend.js';
import { ErrorCode, KeymintError } from './errors.js';
import { decryptJwk, inspectJwe } from './jwe.js';
import { checkJwk, isPrivateJwk, orderJwk, toPublicJwk, type Jwk, type JwkSet } from './jwk.js';
import type { KeyDocument } from './key-document.js';

/** Gives the backend that holds a key: "software" for a private JWK in hand, else the reference's. */
export type BackendResolver = (name: string) => Promise<KeyBackend>;

/** The backend that uses private JWKs held in memory. */
export const SOFTWARE_BACKEND = 'software';

export interface OpenKeyOptions {
  /** Asked only when the document is encrypted. */
  password?: () => Promise<string>;
  backends: BackendResolver;
  /** Name of the input, for messages. */
  source: string;
}

/**
 * A private key ready to use, whatever form its file took: an encrypted JWK, a plain JWK or a
 * reference to a key in an HSM or keychain. Signing goes through the backend that holds it.
 */
export interface OpenedKey {
  /** The public JWK, with kid/use/alg as the file has them; undefined for oct keys. */
  publicJwk: Jwk | undefined;
  /** The metadata and key type of the key (kty, crv, kid, alg, use), from whichever half is known. */
  jwk: Jwk;
  private: PrivatePart;
  backend: KeyBackend;
}

async function documentJwk(doc: KeyDocument, options: Pick<OpenKeyOptions, 'password' | 'source'>): Promise<Jwk> {
  if (doc.kind === 'jwk') return doc.jwk;
  if (doc.kind === 'jwe') {
    if (options.password === undefined) {
      throw new KeymintError(ErrorCode.PASSWORD_REQUIRED, `${options.source} is encrypted and no password was given`);
    }
    // The header is checked first, so that a malformed or hostile file (p2c of 2^31) is refused
    // before anyone is asked for a password, let alone a key derived from it.
    inspectJwe(doc.text);
    const jwk = await decryptJwk(doc.text, await options.password());
    checkJwk(jwk, options.source);
    return jwk;
  }
  throw new KeymintError(ErrorCode.INPUT_INVALID, `${options.source} holds a ${doc.kind === 'jwks' ? 'JWK Set' : 'key reference'}, not a single JWK`);
}

/**
 * Opens a private key from a key document: decrypts a JWE (asking for the password only then),
 * takes a plain JWK as it is, and hands a key reference to the backend named in it.
 * @throws KeymintError ERR_INPUT_INVALID (a public key, a set), ERR_DECRYPT_FAILED, ERR_PASSWORD_REQUIRED,
 *   and the backend's own errors
 * @example const key = await openPrivateKey(parseKeyDocument(text, 'key.json'), { source: 'key.json', password, backends });
 */
export async function openPrivateKey(doc: KeyDocument, options: OpenKeyOptions): Promise<OpenedKey> {
  if (doc.kind === 'reference') {
    return { publicJwk: orderJwk(doc.jwk), jwk: doc.jwk, private: { kind: 'reference', reference: doc.reference }, backend: await options.backends(doc.reference.backend) };
  }
  if (doc.kind === 'jwks') {
    const secrets = doc.set.keys.filter(isPrivateJwk);
    if (doc.set.keys.length !== 1 || secrets.length !== 1) {
      throw new KeymintError(ErrorCode.INPUT_INVALID, `${options.source} is a JWK Set of ${doc.set.keys.length} keys: give a file with one private key`);
    }
  }
  const jwk = doc.kind === 'jwks' ? (doc.set.keys[0] as Jwk) : await documentJwk(doc, options);
  if (!isPrivateJwk(jwk)) {
    throw new KeymintError(ErrorCode.INPUT_INVALID, `${options.source} holds a public key: a private key is needed here`);
  }
  return {
    publicJwk: jwk.kty === 'oct' ? undefined : toPublicJwk(jwk),
    jwk,
    private: { kind: 'jwk', jwk },
    backend: await options.backends(SOFTWARE_BACKEND),
  };
}

/**
 * The public form of what a key document holds: a JWK's public part, a set's public parts, a
 * reference's public JWK. oct keys have none; with `allowSecret` their whole JWK is returned.
 * @throws KeymintError ERR_INPUT_INVALID for oct keys without `allowSecret`, and decryption errors
 * @example await publicOf(parseKeyDocument(text, 'key.json'), { source: 'key.json', password })
 */
export async function publicOf(
  doc: KeyDocument,
  options: Pick<OpenKeyOptions, 'password' | 'source'> & { allowSecret?: boolean },
): Promise<Jwk | JwkSet> {
  const publicPart = (jwk: Jwk): Jwk => {
    if (jwk.kty !== 'oct') return toPublicJwk(jwk);
    if (options.allowSecret) return orderJwk(jwk);
    throw new KeymintError(ErrorCode.INPUT_INVALID, `${options.source} holds an oct key, which has no public part: its only form is the secret`, {
      hint: 'add --subtle to print the secret key itself',
    });
  };
  // A reference holds no secret by design; its JWK goes through publicPart all the same, so that a
  // hand-edited reference cannot publish private members.
  if (doc.kind === 'reference') return publicPart(doc.jwk);
  if (doc.kind === 'jwks') return { ...doc.set, keys: doc.set.keys.map(publicPart) };
  return publicPart(await documentJwk(doc, options));
}
