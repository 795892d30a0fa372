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

export interface BackendCapabilities {
  /** Whether the private key can be handed out as a JWK (and so must be encrypted on disk). */
  exportable: boolean;
  /** Every kind of key the backend can make. */
  keyTypes: readonly KeyTypeSupport[];
}

/**
 * The contract every backend implements. Backends only create, hold and use keys: validation,
 * defaults, kid, thumbprints and file formats are decided in core.
 */
export interface KeyBackend {
  readonly name: string;
  /** Who holds the keys, for messages, e.g. `token "ci" (serial 5d1e...)`; default `backend "<name>"`. */
  readonly description?: string;
  readonly capabilities: BackendCapabilities;
  /**
   * Makes a new key for a spec that `resolveKeySpec` produced and `assertSupported` accepted.
   * A backend that names stored keys after their kid gets it from `defaultKid`.
   * @throws KeymintError ERR_ALG_NOT_SUPPORTED when the key cannot be made here after all
   */
  generate(spec: KeySpec): Promise<GeneratedKey>;
  /**
   * Signs the JWS signing input with a key this backend holds; returns the JWS signature bytes
   * (r||s for ECDSA, RFC 7518 §3.4).
   * @throws KeymintError ERR_ALG_NOT_SUPPORTED when the key or backend cannot sign with `alg`
   */
  sign(key: PrivatePart, alg: string, data: Uint8Array): Promise<Uint8Array>;
  /** Releases sessions and handles. Safe to call more than once. */
  close(): Promise<void>;
}

/** A backend package default-exports one of these. */
export type BackendFactory<Options = Record<string, unknown>> = (options?: Options) => KeyBackend | Promise<KeyBackend>;

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
  if (t.sizes !== undefined) text += ' ' + ('min' in t.sizes ? `${t.sizes.min}-${t.sizes.max}` : t.sizes.join('/'));
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
export function assertSupported(backend: Pick<KeyBackend, 'name' | 'capabilities' | 'description'>, spec: KeySpec): void {
  if (supports(backend.capabilities, spec)) return;
  const offered = [...new Set(backend.capabilities.keyTypes.map(describeKeyTypeSupport))];
  const holder = backend.description ?? `backend "${backend.name}"`;
  throw new KeymintError(ErrorCode.ALG_NOT_SUPPORTED, `${describeSpec(spec)} keys are not supported by ${holder}: it can make ${offered.join(', ')}`);
}
