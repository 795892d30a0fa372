import { ErrorCode, KeymintError } from './errors.js';
import type { Jwk } from './jwk.js';
import type { Curve, KeySpec, Kty, KeyUse } from './params.js';

/**
 * Where a private key lives when it is not handed out: the backend that holds it and its own
 * way of finding it again (a PKCS#11 URI without PIN, a keychain service and account ...).
 * A reference never carries secrets.
 */
export interface KeyReference {
  backend: string;
  location: Record<string, string>;
}

/**
 * The private half of a key as a backend returns it: either the private JWK itself (the key can
 * leave the backend) or a reference to where the backend keeps it.
 */
export type PrivatePart = { kind: 'jwk'; jwk: Jwk } | { kind: 'reference'; reference: KeyReference };

/** What a backend returns from `generate`: key material only; core adds kid, use and alg. */
export interface GeneratedKey {
  /** The public JWK members (kty, crv, x, y / n, e); null for oct keys, which have no public part. */
  publicJwk: Jwk | null;
  private: PrivatePart;
}

/** One kind of key a backend can make. Absent fields mean "any". */
export interface KeyTypeSupport {
  kty: Kty;
  /** For EC and OKP keys. */
  crv?: Curve;
  /** Accepted sizes in bits for RSA and oct keys. */
  sizes?: { min: number; max: number } | readonly number[];
  /** Restrict to these uses. */
  uses?: readonly KeyUse[];
  /** Restrict to these algorithms. */
  algs?: readonly string[];
}

/** The operations a backend may offer beyond making and using keys: declared, never guessed. */
export const BACKEND_OPERATIONS = ['list', 'delete', 'describe'] as const;
export type BackendOperation = (typeof BACKEND_OPERATIONS)[number];

/**
 * The optional ways a backend uses its keys beyond signing, declared like the operations above:
 * `unwrapKey` recovers a JWE's content-encryption key, `deriveSharedSecret` makes an ECDH shared
 * secret. `decrypt` in `@keymint/core/jose` uses them, and the conformance suite runs each one.
 */
export const KEY_OPERATIONS = ['unwrapKey', 'deriveSharedSecret'] as const;
export type KeyOperation = (typeof KEY_OPERATIONS)[number];

export interface BackendCapabilities {
  /** Whether the private key can be handed out as a JWK (and so must be encrypted on disk). */
  exportable: boolean;
  /** Every kind of key the backend can make. */
  keyTypes: readonly KeyTypeSupport[];
  /** The optional operations it offers; the conformance suite runs each one. Default none. */
  operations?: readonly BackendOperation[];
  /** The optional key operations it offers (decryption); the conformance suite runs each one. Default none. */
  keyOperations?: readonly KeyOperation[];
}

/** What `unwrapKey` needs besides the encrypted key. */
export interface UnwrapParams {
  /** Bytes of the content-encryption key the JWE's "enc" takes: what a correct unwrap gives. */
  cekLength: number;
  /** A128GCMKW ... A256GCMKW: the JWE header's "iv" and "tag", decoded. */
  iv?: Uint8Array;
  tag?: Uint8Array;
}

/** What core tells a backend while it makes a key: answers core decides, asked for by the backend. */
export interface GenerateContext {
  /** The kid of the new key (the spec's, else its RFC 7638 thumbprint; none for oct keys). */
  kid(publicJwk: Jwk | null): Promise<string | undefined>;
  /** A private JWK as keymint stores it: kid, use and alg set, members in keymint's order. */
  privateJwk(jwk: Jwk, kid: string | undefined): Jwk;
}

/** A key a backend holds, as `list` reports it. */
export interface StoredKey {
  /** What `delete` takes to name it here: a keychain account, a PKCS#11 URI ... */
  id: string;
  /** Where it is, for people: `service "keymint", account "k1" in the Secret Service`, `label "k1" on token "ci"`. */
  name: string;
  /** `ok`; `missing` (listed, but gone from the store); `invalid` (there, but not a key keymint can use). */
  status: 'ok' | 'missing' | 'invalid';
  kid: string | null;
  kty: string | null;
  crv: string | null;
  /** Bits of an RSA modulus or an oct key. */
  size: number | null;
  alg: string | null;
  use: string | null;
  /** A reference that signs with the key, where the backend can give one. */
  reference: KeyReference | null;
  /** What else the backend knows of it (label, store, URI, usages ...), as it names those facts. */
  details: Record<string, unknown>;
}

export interface KeyListing {
  /** Where the keys are, for people: `token "ci" (serial 5d1e...)`, `service "keymint" in the Secret Service`. */
  where: string;
  keys: StoredKey[];
  /** What a user should know: a damaged index, keys deleted behind keymint's back. */
  warnings: string[];
  /** Facts about the place itself (the token, the service), for programs. */
  details: Record<string, unknown>;
}

export interface BackendDescription {
  /** One line for people: the module and its tokens, the keychain and its store. */
  summary: string;
  /** More lines for people. */
  lines: string[];
  /** The same, for programs. */
  details: Record<string, unknown>;
}

export interface DeleteOptions {
  /** Asked with the key about to go; false keeps it. Not called when there is nothing to delete. */
  confirm?: (key: StoredKey) => boolean | Promise<boolean>;
}

export interface Deletion {
  key: StoredKey;
  /** `deleted`; `declined` (confirm said no); `unlisted` (already gone from the store: taken off keymint's list). */
  outcome: 'deleted' | 'declined' | 'unlisted';
}

/**
 * The contract every backend implements. Backends only create, hold and use keys: validation,
 * defaults, kid, thumbprints and file formats are decided in core (`planKey`).
 */
export interface KeyBackend {
  readonly name: string;
  /** Who holds the keys, for messages, e.g. `token "ci" (serial 5d1e...)`; default `backend "<name>"`. */
  readonly description?: string;
  readonly capabilities: BackendCapabilities;
  /**
   * Makes a new key for a spec that core planned and found supported. A backend that names stored
   * keys after their kid asks `context` for it.
   * @throws KeymintError ERR_ALG_NOT_SUPPORTED when the key cannot be made here after all
   */
  generate(spec: KeySpec, context: GenerateContext): Promise<GeneratedKey>;
  /**
   * Signs the JWS signing input with a key this backend holds; returns the JWS signature bytes
   * (r||s for ECDSA, RFC 7518 §3.4).
   * @throws KeymintError ERR_ALG_NOT_SUPPORTED when the key or backend cannot sign with `alg`, or
   *   the key belongs to another backend
   */
  sign(key: PrivatePart, alg: string, data: Uint8Array): Promise<Uint8Array>;
  /**
   * Recovers a JWE's content-encryption key (CEK) with a key this backend holds (offered when
   * `capabilities.keyOperations` has `unwrapKey`): RSA-OAEP, RSA-OAEP-256 and RSA1_5 decrypt the
   * encrypted key, A128KW ... A256KW unwrap it, A128GCMKW ... A256GCMKW decrypt it with
   * `params.iv` and `params.tag`, and dir gives the key itself. Core has checked that the key fits
   * `alg` and the lengths; the backend checks again what it can (a token refuses a key without
   * CKA_DECRYPT). For RSA1_5 a backend may give `params.cekLength` random bytes instead of failing
   * (RFC 7516 §11.5): core treats both alike.
   * @throws KeymintError ERR_DECRYPT_FAILED when the encrypted key does not decrypt (one error,
   *   whatever the reason); ERR_ALG_NOT_SUPPORTED when the key or backend cannot do `alg`, or the
   *   key belongs to another backend
   */
  unwrapKey?(key: PrivatePart, alg: string, encryptedKey: Uint8Array, params: UnwrapParams): Promise<Uint8Array>;
  /**
   * The ECDH shared secret Z of a key this backend holds and a peer's public key, the x-coordinate
   * of the shared point as long as the curve's field (P-521: 66 bytes; X25519: 32; X448: 56),
   * offered when `capabilities.keyOperations` has `deriveSharedSecret`. Core has checked that
   * `publicJwk` is a point on the key's curve.
   * @throws KeymintError ERR_ALG_NOT_SUPPORTED when the key cannot do key agreement (a signing key),
   *   or belongs to another backend
   * @see https://www.rfc-editor.org/rfc/rfc7518#section-4.6
   */
  deriveSharedSecret?(key: PrivatePart, publicJwk: Jwk): Promise<Uint8Array>;
  /** The keys this backend holds (offered when `capabilities.operations` has `list`). */
  list?(): Promise<KeyListing>;
  /**
   * Deletes a key this backend holds, named by its reference or by the `id` that `list` gives
   * (offered when `capabilities.operations` has `delete`).
   * @throws KeymintError ERR_KEY_NOT_FOUND, ERR_INPUT_INVALID for another backend's reference
   */
  delete?(target: KeyReference | string, options?: DeleteOptions): Promise<Deletion>;
  /** What the backend is connected to (offered when `capabilities.operations` has `describe`). */
  describe?(): Promise<BackendDescription>;
  /** Releases sessions and handles. Safe to call more than once. */
  close(): Promise<void>;
}

/** What every backend factory takes, beside its own options: how to ask and how to warn. */
export interface BackendOptions {
  /** Asks for a secret (a PIN) with echo off; leave out where nobody can answer. */
  promptSecret?: ((question: string) => Promise<string>) | undefined;
  /** Where warnings go (a PIN in a URI). Default: process.emitWarning. */
  warn?: ((message: string) => void) | undefined;
  /** The environment to read the backend's variables from. Default: process.env. */
  env?: Record<string, string | undefined> | undefined;
  /**
   * The caller runs one operation and exits, with nothing to do meanwhile (the CLI sets it): a
   * backend may then do short work on the calling thread instead of in Node's thread pool, whose
   * start costs a new process more than making an EC key. Default false: a program making many
   * keys at once keeps them off its event loop.
   */
  singleOperation?: boolean | undefined;
}

/** A backend package default-exports one of these: every factory has this shape. */
export type BackendFactory<Options extends BackendOptions = BackendOptions> = (
  options?: Options,
) => Promise<KeyBackend>;

/** Any backend's factory, its options unknown to the caller (the CLI builds them from the manifest's flags). */
export type AnyBackendFactory = (options?: never) => Promise<KeyBackend>;

/** A command-line flag of a backend, and the factory option it sets. */
export interface BackendFlag {
  /** As commander writes it: `--pkcs11-uri <uri>`. */
  flags: string;
  description: string;
  /** The factory option the value goes to. */
  option: string;
  /** An environment variable read when the flag is not given. */
  env?: string;
  /** The values it accepts: anything else is a usage error before the backend loads. */
  choices?: readonly string[];
}

/** The version of the contract a manifest is written for; keymint refuses others by name. */
export const BACKEND_API_VERSION = 1;

/**
 * How keymint knows a backend without loading it: a package exports it as `./manifest`, a module
 * that loads nothing native. The CLI derives `--backend`, its flags, help, install hints and the
 * `keys` commands from it.
 */
export interface BackendManifest {
  apiVersion: typeof BACKEND_API_VERSION;
  /** The name in `--backend` and in key references: lower case letters, digits and dashes. */
  name: string;
  /** One line: what the backend keeps keys in. */
  summary: string;
  /** How to install it, as a user types it. */
  install: string;
  flags: readonly BackendFlag[];
  /** The environment variables it reads, for help. */
  environment: readonly { name: string; description: string }[];
  /** The optional operations its backends offer. */
  operations: readonly BackendOperation[];
  /** Flags that key-making commands have anyway and that it reads too, by flag name: `{ force: 'overwrite' }`. */
  commonFlags?: Readonly<Record<string, string>>;
  /** Old command names kept for one release: `keymint <name> <command>` runs `keymint keys <operation>`. */
  aliases?: Readonly<Record<string, BackendOperation>>;
  /** More help for people, shown with the backend's flags (what it loads, where its PIN comes from). */
  help?: string;
  /** Loads the backend itself (and with it any native library): its package's default export. */
  load(): Promise<AnyBackendFactory>;
}

function sizeFits(sizes: KeyTypeSupport['sizes'], size: number | undefined): boolean {
  if (sizes === undefined || size === undefined) return true;
  if ('min' in sizes) return size >= sizes.min && size <= sizes.max;
  return sizes.includes(size);
}

/** True when one of the backend's declared key types covers the spec. */
export function supports(capabilities: BackendCapabilities, spec: KeySpec): boolean {
  return capabilities.keyTypes.some(
    (t) =>
      t.kty === spec.kty &&
      (t.crv === undefined || t.crv === spec.crv) &&
      sizeFits(t.sizes, spec.size) &&
      (t.uses === undefined || (t.uses as readonly string[]).includes(spec.use)) &&
      (t.algs === undefined || spec.alg === undefined || t.algs.includes(spec.alg)),
  );
}

/** "EC P-256", "RSA 2048-4096", "oct 128/256": one declared kind of key, for messages. */
export function describeKeyTypeSupport(t: KeyTypeSupport): string {
  let text = t.crv === undefined ? t.kty : `${t.kty} ${t.crv}`;
  if (t.sizes !== undefined) text += ` ${'min' in t.sizes ? `${t.sizes.min}-${t.sizes.max}` : t.sizes.join('/')}`;
  return text;
}

/** "EC P-256", "RSA 3072", "oct 256 HS256" */
export function describeSpec(spec: KeySpec): string {
  return [spec.kty, spec.crv, spec.size, spec.alg].filter((p) => p !== undefined).join(' ');
}

/**
 * Fails unless the backend declares support for the spec.
 * @throws KeymintError ERR_ALG_NOT_SUPPORTED naming the backend and what it supports
 */
export function assertSupported(
  backend: Pick<KeyBackend, 'name' | 'capabilities' | 'description'>,
  spec: KeySpec,
): void {
  if (supports(backend.capabilities, spec)) return;
  const offered = [...new Set(backend.capabilities.keyTypes.map(describeKeyTypeSupport))];
  const holder = backend.description ?? `backend "${backend.name}"`;
  throw new KeymintError(
    ErrorCode.ALG_NOT_SUPPORTED,
    `${describeSpec(spec)} keys are not supported by ${holder}: it can make ${offered.join(', ')}`,
  );
}
