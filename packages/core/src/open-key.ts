import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BackendOptions, KeyBackend, PrivatePart } from './backend.js';
import { ErrorCode, KeymintError, message, param } from './errors.js';
import { readInput } from './files.js';
import { checkJwk, isPrivateJwk, orderJwk, toPublicJwk, type Jwk, type JwkSet } from './jwk.js';
import { parseKeyDocument, type KeyDocument } from './key-document.js';

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
    const { decryptJwk, inspectJwe } = await import('./jwe.js');
    inspectJwe(doc.text);
    const jwk = await decryptJwk(doc.text, await options.password());
    checkJwk(jwk, options.source);
    return jwk;
  }
  throw new KeymintError(
    ErrorCode.INPUT_INVALID,
    `${options.source} holds a ${doc.kind === 'jwks' ? 'JWK Set' : 'key reference'}, not a single JWK`,
  );
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
    return {
      publicJwk: orderJwk(doc.jwk),
      jwk: doc.jwk,
      private: { kind: 'reference', reference: doc.reference },
      backend: await options.backends(doc.reference.backend),
    };
  }
  if (doc.kind === 'jwks') {
    const secrets = doc.set.keys.filter(isPrivateJwk);
    if (doc.set.keys.length !== 1 || secrets.length !== 1) {
      throw new KeymintError(
        ErrorCode.INPUT_INVALID,
        `${options.source} is a JWK Set of ${doc.set.keys.length} keys: give a file with one private key`,
      );
    }
  }
  const jwk = doc.kind === 'jwks' ? (doc.set.keys[0] as Jwk) : await documentJwk(doc, options);
  if (!isPrivateJwk(jwk)) {
    throw new KeymintError(
      ErrorCode.INPUT_INVALID,
      `${options.source} holds a public key: a private key is needed here`,
    );
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
    throw new KeymintError(
      ErrorCode.INPUT_INVALID,
      `${options.source} holds an oct key, which has no public part: its only form is the secret`,
      {
        hint: message`add ${param('subtle')} to print the secret key itself`,
      },
    );
  };
  // A reference holds no secret by design; its JWK goes through publicPart all the same, so that a
  // hand-edited reference cannot publish private members.
  if (doc.kind === 'reference') return publicPart(doc.jwk);
  if (doc.kind === 'jwks') return { ...doc.set, keys: doc.set.keys.map(publicPart) };
  return publicPart(await documentJwk(doc, options));
}

/** The package a backend comes in: keymint's own, or anyone's by the naming convention. */
const backendPackages = (name: string) => [`@keymint/backend-${name}`, `keymint-backend-${name}`];

/** Imports a package from where core is installed, else from the current directory's project. */
async function importInstalled(specifier: string): Promise<Record<string, unknown> | undefined> {
  try {
    return (await import(specifier)) as Record<string, unknown>;
  } catch {
    try {
      const path = createRequire(join(process.cwd(), 'package.json')).resolve(specifier);
      return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }
}

/**
 * A resolver that makes each backend a key file names from its installed package
 * (`@keymint/backend-<name>`, else `keymint-backend-<name>`), once, with the given options.
 * @throws KeymintError ERR_BACKEND_UNAVAILABLE when no such package is installed
 * @example const backends = installedBackends({ promptSecret: askPin });
 */
export function installedBackends(options: BackendOptions = {}): BackendResolver & { close(): Promise<void> } {
  const opened = new Map<string, Promise<KeyBackend>>();
  const resolve = (name: string): Promise<KeyBackend> => {
    let backend = opened.get(name);
    if (backend === undefined) {
      backend = (async () => {
        for (const specifier of backendPackages(name)) {
          const module = await importInstalled(specifier);
          const factory = module?.default as ((o: BackendOptions) => Promise<KeyBackend>) | undefined;
          if (typeof factory === 'function') return factory(options);
        }
        throw new KeymintError(
          ErrorCode.BACKEND_UNAVAILABLE,
          `the key is kept by the "${name}" backend, which is not installed`,
          {
            hint: `install ${backendPackages(name).join(' or ')}`,
          },
        );
      })();
      opened.set(name, backend);
    }
    return backend;
  };
  return Object.assign(resolve, {
    close: async () => {
      for (const backend of opened.values())
        await backend.then(
          (b) => b.close(),
          () => undefined,
        );
    },
  });
}

export interface OpenKeyFileOptions {
  /** The password of an encrypted key file, or a function that asks for it (called only then). */
  password?: string | (() => Promise<string>);
  /** The backends that hold referenced keys; default: `installedBackends()`. */
  backends?: BackendResolver;
}

/**
 * Opens a key file of any form for signing, in one call: an encrypted JWK (with its password), a
 * plain JWK, a JWK Set of one private key, or a reference to a key in an HSM or keychain.
 * @throws KeymintError ERR_IO, ERR_INPUT_INVALID, ERR_PASSWORD_REQUIRED, ERR_DECRYPT_FAILED,
 *   ERR_BACKEND_UNAVAILABLE, and the backend's own errors
 * @example const key = await openKeyFile('client.json', { password }); await signJwt(key, claims);
 */
export async function openKeyFile(path: string, options: OpenKeyFileOptions = {}): Promise<OpenedKey> {
  const doc = parseKeyDocument(await readInput(path, 'key file'), path);
  const { password } = options;
  return openPrivateKey(doc, {
    source: path,
    ...(password === undefined ? {} : { password: typeof password === 'string' ? async () => password : password }),
    backends: options.backends ?? installedBackends(),
  });
}
