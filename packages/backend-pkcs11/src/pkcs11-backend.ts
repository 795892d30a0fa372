import {
  ErrorCode,
  KeymintError,
  assertSupported,
  isKeymintError,
  type BackendCapabilities,
  type BackendDescription,
  type BackendOptions,
  type DeleteOptions,
  type Deletion,
  type GenerateContext,
  type KeyBackend,
  type KeyListing,
  type KeyReference,
  type KeySpec,
  type PrivatePart,
  type StoredKey,
  type Jwk,
  type UnwrapParams,
} from '@keymint/core';
import type { TokenDescription } from './describe-slots.js';
import type { TokenKey } from './find-key.js';
import { generateOnToken, newKeyId, PKCS11_BACKEND_NAME } from './generate-key.js';
import { describeTokenKey, destroyTokenKey, listTokenKeys, type Pkcs11KeyInfo } from './list-keys.js';
import { describeModule } from './describe-module.js';
import { forgetKey, lookUpKey } from './look-up-key.js';
import { isTokenUnavailable, toKeymintError } from './map-pkcs11-error.js';
import { parsePkcs11Uri } from './parse-pkcs11-uri.js';
import { acquireModule, type ModuleHandle, type ModuleInfo } from './pkcs11-module.js';
import type { Pkcs11Uri } from './pkcs11-uri.js';
import { quirksOf } from './module-quirks.js';
import { MODULE_TRUST_ENV, userChosenModules } from './module-trust.js';
import { resolveModulePath } from './resolve-module-path.js';
import { isTransient, pauseBeforeRetry, retryTransient } from './retry-transient.js';
import { pinSourcePath, type PinSources } from './resolve-pin.js';
import { selectSlot } from './select-slot.js';
import { signWithKey } from './sign-with-key.js';
import { deriveWithKey, unwrapWithKey } from './decrypt-with-key.js';
import { anyTokenKeyTypes } from './token-key-types.js';
import { TokenPool, type Access } from './token-pool.js';
import type { TokenSession } from './token-session.js';

/** The environment variables the backend reads. */
export const PKCS11_ENV = {
  /** The token to create keys on, as a PKCS#11 URI (the CLI reads it for --pkcs11-uri). */
  uri: MODULE_TRUST_ENV.uri,
  /** The module to use when a URI names none. */
  module: MODULE_TRUST_ENV.module,
  /** Modules the user trusts on this machine, absolute paths separated by ':'. */
  modules: MODULE_TRUST_ENV.modules,
  /** The user PIN. */
  pin: 'KEYMINT_PKCS11_PIN',
} as const;

export interface Pkcs11BackendOptions extends BackendOptions {
  /**
   * The token new keys are made on, as an RFC 7512 URI: `token`, `serial` or `slot-id` choose it,
   * `object` and `id` name the new key, `module-path` or `module-name` the module, `pin-source`
   * or `pin-value` the PIN. Not needed to sign with a key reference, which carries its own URI.
   */
  uri?: string | undefined;
  /** The module when a URI names none (default: KEYMINT_PKCS11_MODULE). */
  modulePath?: string | undefined;
  /**
   * Modules the program trusts, besides those of `uri` and `modulePath`, the ones p11-kit
   * registers, those in system module directories and KEYMINT_PKCS11_MODULES. A key reference
   * never makes its own module trusted: to sign with a key on a module elsewhere, name it here.
   */
  trustedModules?: readonly string[] | undefined;
  /** The user PIN, for programs; after the URI's own PIN source, before KEYMINT_PKCS11_PIN. `promptSecret` asks last. */
  pin?: string | undefined;
}

/** The token a backend was opened on. */
export interface Pkcs11TokenRef {
  module: ModuleInfo;
  slotId: string;
  token: TokenDescription;
}

/** The pkcs11 KeyBackend, plus what is particular to tokens. */
export interface Pkcs11Backend extends KeyBackend {
  /** The token of `uri`, or undefined for a backend made only to sign with key references. */
  readonly token: Pkcs11TokenRef | undefined;
  /**
   * The keys on the token of `uri` (logs in to see private keys).
   * @throws KeymintError ERR_USAGE without a token; the login errors
   */
  listKeys(): Promise<Pkcs11KeyInfo[]>;
}

export const PIN_VALUE_WARNING =
  'pin-value in a PKCS#11 URI leaks the PIN into process lists and shell history: prefer pin-source=file:/path or the KEYMINT_PKCS11_PIN environment variable';

function noToken(what: string): KeymintError {
  return new KeymintError(ErrorCode.USAGE, `the pkcs11 backend needs a token to ${what}: none was given`, {
    hint: "give --pkcs11-uri 'pkcs11:token=NAME?module-path=/path/to/module.so' or set KEYMINT_PKCS11_URI",
  });
}

/** The sessions with a token, and the URI they were opened for. */
interface OpenToken {
  /** Module path and slot id. */
  key: string;
  pool: TokenPool;
  uri: Pkcs11Uri;
}

/** A parsed URI's way to its token: the module it resolved to, with which fallback, and the route key. */
interface Route {
  fallback: string | undefined;
  route: string;
}

/** Parsed reference URIs kept per backend; when there are this many, the memo starts again. */
const MAX_PARSED_URIS = 256;

/** The attributes of a URI that choose a token (not the object, not the PIN). */
const TOKEN_SELECTORS = [
  'token',
  'manufacturer',
  'serial',
  'model',
  'libraryManufacturer',
  'libraryDescription',
  'libraryVersion',
  'slotManufacturer',
  'slotDescription',
  'slotId',
] as const satisfies readonly (keyof Pkcs11Uri)[];

/** The token a URI chooses, as one string. */
function tokenSelector(uri: Pkcs11Uri): string {
  return JSON.stringify(TOKEN_SELECTORS.map((name) => uri[name]));
}

function referenceUri(key: PrivatePart): string {
  if (key.kind !== 'reference') {
    throw new KeymintError(
      ErrorCode.ALG_NOT_SUPPORTED,
      'the pkcs11 backend uses only keys on a token (a key reference); this key is a JWK: use the software backend',
    );
  }
  if (key.reference.backend !== PKCS11_BACKEND_NAME) {
    throw new KeymintError(
      ErrorCode.ALG_NOT_SUPPORTED,
      `the pkcs11 backend holds no keys of backend "${key.reference.backend}"`,
    );
  }
  const uri = key.reference.location.uri;
  if (uri === undefined || uri === '')
    throw new KeymintError(ErrorCode.INPUT_INVALID, 'the pkcs11 key reference has no "uri" in its location');
  return uri;
}

/**
 * Loads the module and chooses the URI's token. SoftHSM reads its token files once, at
 * C_Initialize: a token file that another process was rewriting at that moment is left out until
 * the next C_Initialize. So on SoftHSM a missing token (or CKR_GENERAL_ERROR) is tried again with
 * the module let go and loaded afresh (which reloads it when nobody else in the process uses it).
 * @throws KeymintError ERR_TOKEN_NOT_FOUND, ERR_USAGE, ERR_BACKEND_UNAVAILABLE
 */
async function findSlot(
  path: string,
  uri: Pkcs11Uri,
  chosen: readonly string[],
): Promise<{ handle: ModuleHandle; selected: ReturnType<typeof selectSlot> }> {
  for (let attempt = 0; ; attempt++) {
    const handle = await acquireModule(path, chosen);
    try {
      return { handle, selected: selectSlot(handle, uri) };
    } catch (error) {
      handle.release();
      if (!isTransient(quirksOf(handle.info), error, true) || !(await pauseBeforeRetry(attempt))) {
        throw toKeymintError(error, { action: 'finding the token' });
      }
    }
  }
}

/**
 * Makes the pkcs11 backend. With a URI it opens that token at once (module, slot, session, no
 * login yet) and declares what the token's mechanism list allows; without one it can only sign
 * and decrypt with key references, whose URIs name their own token and module. Decryption runs
 * on the token: RSA keys decrypt the JWE's encrypted key, EC keys derive the ECDH secret. Every
 * token is reached through a pool of sessions (one, and more only while operations run at once;
 * see TokenPool), logged in once on first use and reused; `close` ends them all. A key found on a
 * session is kept and checked before each use rather than searched for again (see lookUpKey). A
 * module is loaded only
 * when it is trusted (see trustModule): the module of a key reference is data, not a choice.
 * @throws KeymintError ERR_USAGE (malformed URI), ERR_BACKEND_UNAVAILABLE (module), ERR_TOKEN_NOT_FOUND,
 *   ERR_MODULE_UNTRUSTED (a module nobody chose)
 * @example
 * const backend = await pkcs11Backend({ uri: 'pkcs11:token=test?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin' });
 * const key = await createKey(backend, { kty: 'EC', crv: 'P-256' });
 * await backend.close();
 * @see https://www.rfc-editor.org/rfc/rfc7512
 */
export async function pkcs11Backend(options: Pkcs11BackendOptions = {}): Promise<Pkcs11Backend> {
  const env = options.env ?? process.env;
  const warn =
    options.warn ?? ((message: string) => process.emitWarning(message, { code: 'KEYMINT_PKCS11_PIN_VALUE' }));
  const configured = options.uri === undefined || options.uri === '' ? undefined : parsePkcs11Uri(options.uri);
  if (configured?.pinValue !== undefined) warn(PIN_VALUE_WARNING);
  // Checked now, so that a bad pin-source fails before a key is made; kept in references as a path.
  const pinSource = configured?.pinSource === undefined ? undefined : `file:${pinSourcePath(configured.pinSource)}`;
  const defaultModule = options.modulePath ?? env[PKCS11_ENV.module];
  // Read when a module is first needed, so that a bad KEYMINT_PKCS11_MODULES fails there, as what it is.
  let chosen: string[] | undefined;
  const { modulePath, trustedModules } = options;
  const chosenModules = () => (chosen ??= userChosenModules({ uri: configured, modulePath, trustedModules }, env));
  const pins: PinSources = { pin: options.pin, env, promptPin: options.promptSecret };

  /** One pool of sessions per token, keyed by module path and slot id; with the URI whose PIN source logs it in. */
  const sessions = new Map<string, Promise<OpenToken>>();
  /** Which token a URI's module and token attributes led to, so that a token is looked up once. */
  const routes = new Map<string, string>();
  /** The route of a parsed URI, so that a URI used again does not look for its module file again. */
  const routeOf = new WeakMap<Pkcs11Uri, Route>();
  let closing: Promise<void> | undefined;

  async function openToken(uri: Pkcs11Uri, fallbackModule: string | undefined): Promise<OpenToken> {
    if (closing !== undefined) throw new KeymintError(ErrorCode.USAGE, 'the pkcs11 backend is closed');
    const seen = routeOf.get(uri);
    const known = seen !== undefined && seen.fallback === fallbackModule ? routes.get(seen.route) : undefined;
    const open = known === undefined ? undefined : sessions.get(known);
    if (open !== undefined) return open;
    const path = resolveModulePath(uri, fallbackModule);
    const route = `${path}\n${tokenSelector(uri)}`;
    routeOf.set(uri, { fallback: fallbackModule, route });
    const routed = routes.get(route);
    const existing = routed === undefined ? undefined : sessions.get(routed);
    if (existing !== undefined) return existing;
    const { handle, selected } = await findSlot(path, uri, chosenModules());
    const key = `${path}#${selected.slotId}`;
    routes.set(route, key);
    const other = sessions.get(key);
    if (other !== undefined) {
      handle.release();
      return other;
    }
    const opening = TokenPool.open(handle, selected).then((pool) => ({ key, pool, uri }));
    sessions.set(key, opening);
    opening.catch(() => sessions.delete(key));
    return opening;
  }

  /** Closes a token's sessions and forgets them, so that the next operation opens the token afresh. */
  async function dropToken(token: OpenToken): Promise<void> {
    const current = sessions.get(token.key);
    if (current !== undefined && (await current.catch(() => undefined)) === token) sessions.delete(token.key);
    await token.pool.close();
  }

  /**
   * Runs `operation` on one of the token's sessions, logged in (see TokenPool for `access`). On
   * SoftHSM a passing CKR_GENERAL_ERROR can stick to a loaded module (a token file read while
   * another process rewrote it): then the sessions are closed, the module let go and loaded
   * afresh, and the whole operation run again on a new session. Operations given here must be safe
   * to run again: reads, signatures, and key generation, which refuses an id that exists (the id is
   * chosen once, before the first try) and marks its errors after the key is made as final. A
   * wrong PIN is never tried again. A token that became unreachable (a forwarding server gone, a
   * device error) fails the operation, and its sessions are closed and the module let go, so that
   * the next operation starts afresh: p11-kit's client, for one, answers nothing but
   * CKR_DEVICE_ERROR until it is finalized and loaded again.
   */
  async function onToken<T>(
    uri: Pkcs11Uri,
    fallbackModule: string | undefined,
    operation: (session: TokenSession) => Promise<T>,
    access: Access = 'shared',
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const token = await openToken(uri, fallbackModule);
      try {
        // The PIN source of whoever opened the token first: the configured URI, or a reference.
        await token.pool.login(token.uri, pins);
        return await token.pool.run(operation, access);
      } catch (error) {
        const transient = isTransient(token.pool.quirks, error);
        if (transient || isTokenUnavailable(error)) await dropToken(token);
        if (!transient || !(await pauseBeforeRetry(attempt))) throw error;
      }
    }
  }

  const primary = configured === undefined ? undefined : await openToken(configured, defaultModule);
  const capabilities: BackendCapabilities = {
    exportable: false,
    keyTypes: primary === undefined ? anyTokenKeyTypes() : primary.pool.keyTypes,
    operations: ['list', 'delete', 'describe'],
    keyOperations: ['unwrapKey', 'deriveSharedSecret'],
  };
  const description = primary === undefined ? undefined : `token ${primary.pool.name}`;

  async function generate(spec: KeySpec, context: GenerateContext) {
    if (primary === undefined || configured === undefined) throw noToken('create keys on');
    // planKey has decided this already; the check stays for programs that call generate directly,
    // so that a mechanism the token lacks is the contract's "not supported", never a token error.
    assertSupported({ name: PKCS11_BACKEND_NAME, capabilities, description }, spec);
    const id = configured.id ?? newKeyId();
    const names = { label: configured.object, id, pinSource };
    return onToken(configured, defaultModule, (session) => generateOnToken(session, spec, names, context), 'exclusive');
  }

  /** The URI of a key reference, parsed; a malformed one is the reference's fault, not a usage error. */
  function uriOfReference(text: string): Pkcs11Uri {
    let uri: Pkcs11Uri;
    try {
      uri = parsePkcs11Uri(text);
    } catch (error) {
      if (isKeymintError(error))
        throw new KeymintError(ErrorCode.INPUT_INVALID, `the key reference holds an ${error.message}`, {
          cause: error,
        });
      throw error;
    }
    if (uri.pinValue !== undefined) warn(PIN_VALUE_WARNING);
    return uri;
  }

  /** Reference URIs parsed before, by their text: a service signs with the same few keys again and again. */
  const parsedReferences = new Map<string, Pkcs11Uri>();

  function uriOfReferenceText(text: string): Pkcs11Uri {
    const known = parsedReferences.get(text);
    if (known !== undefined) return known;
    const uri = uriOfReference(text);
    if (parsedReferences.size >= MAX_PARSED_URIS) parsedReferences.clear();
    parsedReferences.set(text, uri);
    return uri;
  }

  /** The module of a URI that names none: the configured token's, else the default. Found once. */
  let referenceModule: { path: string | undefined } | undefined;
  function fallbackForReferences(): string | undefined {
    referenceModule ??= {
      path: configured === undefined ? defaultModule : resolveModulePath(configured, defaultModule),
    };
    return referenceModule.path;
  }

  /**
   * Runs `operation` with the one key a URI names on its token, as `lookUpKey` finds it: a handle
   * found before on the session is checked, not searched for again. Whatever fails, the handle is
   * dropped; when the operation fails with a checked handle (a key deleted since, or replaced
   * under the same name by one of another size or type, fails as a token error or a signature of
   * the wrong length), the key is looked up afresh and the operation run once more, unless the
   * token itself is unavailable or the data did not decrypt.
   * Operations that must not run twice (a deletion asks first) pass `reuse: false`: the key is
   * then always found afresh.
   */
  function withKey<T>(
    uri: Pkcs11Uri,
    operation: (session: TokenSession, key: TokenKey) => Promise<T>,
    { access = 'shared', reuse = true }: { access?: Access; reuse?: boolean } = {},
  ): Promise<T> {
    const attempt = async (session: TokenSession, again: boolean) => {
      let found: Awaited<ReturnType<typeof lookUpKey>>;
      try {
        found = await retryTransient(session.quirks, () => lookUpKey(session, uri, reuse && !again));
      } catch (error) {
        throw toKeymintError(error, { action: 'finding the key', token: session.name });
      }
      try {
        return { value: await operation(session, found.key) };
      } catch (error) {
        forgetKey(session, uri);
        // A JWE that does not decrypt is the data's fault, whichever key: it fails once, alike.
        if (!found.cached || isTokenUnavailable(error) || isKeymintError(error, ErrorCode.DECRYPT_FAILED)) throw error;
        return undefined;
      }
    };
    return onToken(
      uri,
      fallbackForReferences(),
      async (session) => {
        const first = await attempt(session, false);
        if (first !== undefined) return first.value;
        return ((await attempt(session, true)) as { value: T }).value;
      },
      access,
    );
  }

  async function sign(key: PrivatePart, alg: string, data: Uint8Array): Promise<Uint8Array> {
    return withKey(uriOfReferenceText(referenceUri(key)), (session, found) => signWithKey(session, found, alg, data));
  }

  // Decryption finds its key as signing does (withKey), so that whatever makes that lookup cheaper serves both.
  async function unwrapKey(
    key: PrivatePart,
    alg: string,
    encryptedKey: Uint8Array,
    params: UnwrapParams,
  ): Promise<Uint8Array> {
    return withKey(uriOfReferenceText(referenceUri(key)), (session, found) =>
      unwrapWithKey(session, found, alg, encryptedKey, params),
    );
  }

  async function deriveSharedSecret(key: PrivatePart, publicJwk: Jwk): Promise<Uint8Array> {
    return withKey(uriOfReferenceText(referenceUri(key)), (session, found) => deriveWithKey(session, found, publicJwk));
  }

  async function list(): Promise<KeyListing> {
    const keys = await listKeys();
    const token = primary?.pool.slot.token;
    return {
      where: `on token ${primary?.pool.name ?? ''}`,
      // Tokens find objects in no fixed order: by label, then URI, a listing reads the same each time.
      keys: keys
        .map((k) => storedKey(k, primary?.pool.name ?? ''))
        .sort((a, b) => String(a.details.label).localeCompare(String(b.details.label)) || a.id.localeCompare(b.id)),
      warnings: [],
      details: {
        token:
          token === undefined ? null : { module: primary?.pool.module.info, slotId: primary?.pool.slot.slotId, token },
      },
    };
  }

  /** A key named for deletion: a reference (data), a PKCS#11 URI, or the label of a key on the configured token. */
  function targetUri(target: KeyReference | string): Pkcs11Uri {
    if (typeof target !== 'string') return uriOfReference(referenceUri({ kind: 'reference', reference: target }));
    if (/^pkcs11:/i.test(target)) return uriOfReference(target);
    if (configured === undefined) throw noToken(`find the key labelled ${JSON.stringify(target)} on`);
    return { ...configured, object: target, id: undefined, type: undefined };
  }

  async function deleteKey(target: KeyReference | string, deleteOptions: DeleteOptions = {}): Promise<Deletion> {
    if (typeof target !== 'string' && target.backend !== PKCS11_BACKEND_NAME) {
      throw new KeymintError(
        ErrorCode.INPUT_INVALID,
        `the key reference points at the ${target.backend} backend, not at a PKCS#11 token`,
      );
    }
    const uri = targetUri(target);
    const deletion = async (session: TokenSession, found: TokenKey): Promise<Deletion> => {
      const key = storedKey(await describeTokenKey(session, found.object, found.keyClass, pinSource), session.name);
      if (deleteOptions.confirm !== undefined && !(await deleteOptions.confirm(key)))
        return { key, outcome: 'declined' };
      try {
        await retryTransient(session.quirks, () => destroyTokenKey(session, found.object, found.keyClass));
      } catch (error) {
        throw toKeymintError(error, { action: 'deleting the key', token: session.name });
      }
      // Other sessions' handles of the key fail their check when next used.
      forgetKey(session, uri);
      return { key, outcome: 'deleted' };
    };
    return withKey(uri, deletion, { access: 'exclusive', reuse: false });
  }

  async function describeBackend(): Promise<BackendDescription> {
    return describeModule({ modulePath: options.modulePath, uri: options.uri, env });
  }

  async function listKeys(): Promise<Pkcs11KeyInfo[]> {
    if (primary === undefined || configured === undefined) throw noToken('list keys of');
    return onToken(configured, defaultModule, async (session) => {
      try {
        return await retryTransient(session.quirks, () => listTokenKeys(session, pinSource));
      } catch (error) {
        throw toKeymintError(error, { action: 'listing keys', token: session.name });
      }
    });
  }

  return {
    name: PKCS11_BACKEND_NAME,
    ...(description === undefined ? {} : { description }),
    capabilities,
    token:
      primary === undefined
        ? undefined
        : { module: primary.pool.module.info, slotId: primary.pool.slot.slotId, token: primary.pool.slot.token },
    generate,
    sign,
    unwrapKey,
    deriveSharedSecret,
    listKeys,
    list,
    delete: deleteKey,
    describe: describeBackend,
    close() {
      closing ??= (async () => {
        const open = await Promise.allSettled(sessions.values());
        sessions.clear();
        for (const result of open) if (result.status === 'fulfilled') await result.value.pool.close();
      })();
      return closing;
    },
  };
}

/** A key on a token as every backend lists keys: its URI is what `delete` takes, and what a reference holds. */
function storedKey(key: Pkcs11KeyInfo, token: string): StoredKey {
  const signs = key.usages.includes('sign');
  const enciphers = ['decrypt', 'unwrap', 'derive'].some((u) => key.usages.includes(u));
  return {
    id: key.uri,
    name: `${[key.label === null ? undefined : `label ${JSON.stringify(key.label)}`, key.id === null ? undefined : `id ${key.id}`].filter((p) => p !== undefined).join(', ')} on token ${token}`,
    status: key.kty === null ? 'invalid' : 'ok',
    kid: key.kid,
    kty: key.kty,
    crv: key.crv,
    size: key.size,
    alg: null,
    use: signs && !enciphers ? 'sig' : enciphers && !signs ? 'enc' : null,
    reference: key.type === 'public' ? null : { backend: PKCS11_BACKEND_NAME, location: { uri: key.uri } },
    details: {
      label: key.label,
      id: key.id,
      type: key.type,
      usages: key.usages,
      sensitive: key.sensitive,
      extractable: key.extractable,
      uri: key.uri,
      publicJwk: key.publicJwk,
    },
  };
}
