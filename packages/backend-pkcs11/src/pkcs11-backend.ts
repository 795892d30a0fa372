import { ErrorCode, KeymintError, assertSupported, isKeymintError, type BackendCapabilities, type BackendDescription, type BackendOptions, type DeleteOptions, type Deletion, type GenerateContext, type KeyBackend, type KeyListing, type KeyReference, type KeySpec, type PrivatePart, type StoredKey, type Jwk, type UnwrapParams } from '@keymint/core';
import type { TokenDescription } from './describe-slots.js';
import { findKey } from './find-key.js';
import { generateOnToken, newKeyId, PKCS11_BACKEND_NAME } from './generate-key.js';
import { describeTokenKey, destroyTokenKey, listTokenKeys, type Pkcs11KeyInfo } from './list-keys.js';
import { describeModule } from './describe-module.js';
import { toKeymintError } from './map-pkcs11-error.js';
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
import { TokenSession } from './token-session.js';

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

/** A session with a token, and the URI it was opened for. */
interface OpenToken {
  /** Module path and slot id. */
  key: string;
  session: TokenSession;
  uri: Pkcs11Uri;
}

/** The attributes of a URI that choose a token (not the object, not the PIN), as one string. */
function tokenSelector(uri: Pkcs11Uri): string {
  const { token, manufacturer, serial, model, libraryManufacturer, libraryDescription, libraryVersion, slotManufacturer, slotDescription, slotId } = uri;
  return JSON.stringify([token, manufacturer, serial, model, libraryManufacturer, libraryDescription, libraryVersion, slotManufacturer, slotDescription, slotId]);
}

function referenceUri(key: PrivatePart): string {
  if (key.kind !== 'reference') {
    throw new KeymintError(ErrorCode.ALG_NOT_SUPPORTED, 'the pkcs11 backend uses only keys on a token (a key reference); this key is a JWK: use the software backend');
  }
  if (key.reference.backend !== PKCS11_BACKEND_NAME) {
    throw new KeymintError(ErrorCode.ALG_NOT_SUPPORTED, `the pkcs11 backend holds no keys of backend "${key.reference.backend}"`);
  }
  const uri = key.reference.location.uri;
  if (uri === undefined || uri === '') throw new KeymintError(ErrorCode.INPUT_INVALID, 'the pkcs11 key reference has no "uri" in its location');
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
 * on the token: RSA keys decrypt the JWE's encrypted key, EC keys derive the ECDH secret. Every token is reached through
 * one session, logged in on first use and reused; `close` ends them all. A module is loaded only
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
  const warn = options.warn ?? ((message: string) => process.emitWarning(message, { code: 'KEYMINT_PKCS11_PIN_VALUE' }));
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

  /** One session per token, keyed by module path and slot id; with the URI whose PIN source logs it in. */
  const sessions = new Map<string, Promise<OpenToken>>();
  /** Which session a URI's module and token attributes led to, so that a token is looked up once. */
  const routes = new Map<string, string>();
  let closing: Promise<void> | undefined;

  async function openToken(uri: Pkcs11Uri, fallbackModule: string | undefined): Promise<OpenToken> {
    if (closing !== undefined) throw new KeymintError(ErrorCode.USAGE, 'the pkcs11 backend is closed');
    const path = resolveModulePath(uri, fallbackModule);
    const route = `${path}\n${tokenSelector(uri)}`;
    const known = routes.get(route);
    const open = known === undefined ? undefined : sessions.get(known);
    if (open !== undefined) return open;
    const { handle, selected } = await findSlot(path, uri, chosenModules());
    const key = `${path}#${selected.slotId}`;
    routes.set(route, key);
    const existing = sessions.get(key);
    if (existing !== undefined) {
      handle.release();
      return existing;
    }
    const opening = TokenSession.open(handle, selected).then((session) => ({ key, session, uri }));
    sessions.set(key, opening);
    opening.catch(() => sessions.delete(key));
    return opening;
  }

  /**
   * Runs `operation` on the token's session, logged in. On SoftHSM a passing CKR_GENERAL_ERROR can
   * stick to a loaded module (a token file read while another process rewrote it): then the
   * session is closed, the module let go and loaded afresh, and the whole operation run again on a
   * new session. Operations given here must be safe to run again: reads, signatures, and key
   * generation, which refuses an id that exists (the id is chosen once, before the first try) and
   * marks its errors after the key is made as final. A wrong PIN is never tried again.
   */
  async function onToken<T>(uri: Pkcs11Uri, fallbackModule: string | undefined, operation: (session: TokenSession) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const token = await openToken(uri, fallbackModule);
      try {
        return await token.session.run(async () => {
          // The PIN source of whoever opened the session first: the configured URI, or a reference.
          await token.session.login(token.uri, pins);
          return operation(token.session);
        });
      } catch (error) {
        if (!isTransient(token.session.quirks, error) || !(await pauseBeforeRetry(attempt))) throw error;
        const current = sessions.get(token.key);
        if (current !== undefined && (await current.catch(() => undefined)) === token) sessions.delete(token.key);
        await token.session.close();
      }
    }
  }

  const primary = configured === undefined ? undefined : await openToken(configured, defaultModule);
  const capabilities: BackendCapabilities = {
    exportable: false,
    keyTypes: primary === undefined ? anyTokenKeyTypes() : primary.session.keyTypes,
    operations: ['list', 'delete', 'describe'],
    keyOperations: ['unwrapKey', 'deriveSharedSecret'],
  };
  const description = primary === undefined ? undefined : `token ${primary.session.name}`;

  async function generate(spec: KeySpec, context: GenerateContext) {
    if (primary === undefined || configured === undefined) throw noToken('create keys on');
    // planKey has decided this already; the check stays for programs that call generate directly,
    // so that a mechanism the token lacks is the contract's "not supported", never a token error.
    assertSupported({ name: PKCS11_BACKEND_NAME, capabilities, description }, spec);
    const id = configured.id ?? newKeyId();
    return onToken(configured, defaultModule, (session) => generateOnToken(session, spec, { label: configured.object, id, pinSource }, context));
  }

  /** The URI of a key reference, parsed; a malformed one is the reference's fault, not a usage error. */
  function uriOfReference(text: string): Pkcs11Uri {
    let uri: Pkcs11Uri;
    try {
      uri = parsePkcs11Uri(text);
    } catch (error) {
      if (isKeymintError(error)) throw new KeymintError(ErrorCode.INPUT_INVALID, `the key reference holds an ${error.message}`, { cause: error });
      throw error;
    }
    if (uri.pinValue !== undefined) warn(PIN_VALUE_WARNING);
    return uri;
  }

  /** Runs `operation` with the one key a URI names, found on its token. */
  function withKey<T>(uri: Pkcs11Uri, operation: (session: TokenSession, key: ReturnType<typeof findKey>) => Promise<T>): Promise<T> {
    const fallbackModule = configured === undefined ? defaultModule : resolveModulePath(configured, defaultModule);
    return onToken(uri, fallbackModule, async (session) => {
      let found;
      try {
        found = await retryTransient(session.quirks, () => findKey(session, uri));
      } catch (error) {
        throw toKeymintError(error, { action: 'finding the key', token: session.name });
      }
      return operation(session, found);
    });
  }

  async function sign(key: PrivatePart, alg: string, data: Uint8Array): Promise<Uint8Array> {
    return withKey(uriOfReference(referenceUri(key)), (session, found) => signWithKey(session, found, alg, data));
  }

  // Decryption finds its key as signing does (withKey), so that whatever makes that lookup cheaper serves both.
  async function unwrapKey(key: PrivatePart, alg: string, encryptedKey: Uint8Array, params: UnwrapParams): Promise<Uint8Array> {
    return withKey(uriOfReference(referenceUri(key)), (session, found) => unwrapWithKey(session, found, alg, encryptedKey, params));
  }

  async function deriveSharedSecret(key: PrivatePart, publicJwk: Jwk): Promise<Uint8Array> {
    return withKey(uriOfReference(referenceUri(key)), (session, found) => deriveWithKey(session, found, publicJwk));
  }

  async function list(): Promise<KeyListing> {
    const keys = await listKeys();
    const token = primary?.session.slot.token;
    return {
      where: `on token ${primary?.session.name ?? ''}`,
      // Tokens find objects in no fixed order: by label, then URI, a listing reads the same each time.
      keys: keys.map((k) => storedKey(k, primary?.session.name ?? '')).sort((a, b) => String(a.details.label).localeCompare(String(b.details.label)) || a.id.localeCompare(b.id)),
      warnings: [],
      details: { token: token === undefined ? null : { module: primary?.session.module.info, slotId: primary?.session.slot.slotId, token } },
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
      throw new KeymintError(ErrorCode.INPUT_INVALID, `the key reference points at the ${target.backend} backend, not at a PKCS#11 token`);
    }
    return withKey(targetUri(target), async (session, found) => {
      const key = storedKey(await describeTokenKey(session, found.object, found.keyClass, pinSource), session.name);
      if (deleteOptions.confirm !== undefined && !(await deleteOptions.confirm(key))) return { key, outcome: 'declined' };
      try {
        await retryTransient(session.quirks, () => destroyTokenKey(session, found.object, found.keyClass));
      } catch (error) {
        throw toKeymintError(error, { action: 'deleting the key', token: session.name });
      }
      return { key, outcome: 'deleted' };
    });
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
        : { module: primary.session.module.info, slotId: primary.session.slot.slotId, token: primary.session.slot.token },
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
        for (const result of open) if (result.status === 'fulfilled') await result.value.session.close();
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
    details: { label: key.label, id: key.id, type: key.type, usages: key.usages, sensitive: key.sensitive, extractable: key.extractable, uri: key.uri, publicJwk: key.publicJwk },
  };
}
