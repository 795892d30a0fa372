import { assertSupported, type KeyBackend, type PrivatePart } from './backend.js';
import { ErrorCode, KeymintError } from './errors.js';
import { encryptJwk } from './jwe.js';
import { checkJwk, keySizeBits, orderJwk, type Jwk } from './jwk.js';
import { serializeReference } from './key-document.js';
import { PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, writeFilesAtomically, type OutputFile } from './files.js';
import { resolveKeySpec, type KeyParamsInput, type KeySpec } from './params.js';
import { thumbprint } from './thumbprint.js';

/**
 * A key that keymint made or adopted, ready to be written: kid, use and alg set on both halves.
 */
export interface NewKey {
  spec: KeySpec;
  /** The kid: --kid, else the RFC 7638 thumbprint; none for oct keys unless given. */
  kid: string | undefined;
  /** RFC 7638 SHA-256 thumbprint of the public key; undefined for oct keys. */
  thumbprint: string | undefined;
  /** The public JWK; undefined for oct keys, which have none. */
  publicJwk: Jwk | undefined;
  /** The private JWK when it may leave the backend, or where the backend keeps the key. */
  private: PrivatePart | undefined;
}

/**
 * The kid keymint gives a new key: the one asked for, else the RFC 7638 SHA-256 thumbprint.
 * oct keys get none: a hash of a secret tells something about the secret.
 * @see https://www.rfc-editor.org/rfc/rfc7638#section-3
 */
export async function defaultKid(spec: Pick<KeySpec, 'kty' | 'kid'>, publicJwk: Jwk | null | undefined): Promise<string | undefined> {
  if (spec.kid !== undefined) return spec.kid;
  if (spec.kty === 'oct' || publicJwk == null) return undefined;
  return thumbprint(publicJwk);
}

/**
 * A JWK with keymint's metadata: the kid (if any), the use and the alg of its spec, in keymint's
 * member order. Backends that store a private JWK themselves use it so both halves agree.
 * @example withKeyMetadata({ kty: 'OKP', crv: 'Ed25519', x }, spec, kid)
 */
export function withKeyMetadata(jwk: Jwk, spec: KeySpec, kid: string | undefined, extra: Partial<Jwk> = {}): Jwk {
  const out: Jwk = { ...jwk, ...extra };
  if (kid !== undefined) out.kid = kid;
  out.use = spec.use;
  if (spec.alg !== undefined) out.alg = spec.alg;
  return orderJwk(out);
}

async function finish(spec: KeySpec, material: { publicJwk: Jwk | null; private: PrivatePart | undefined }, extra?: Partial<Jwk>): Promise<NewKey> {
  const kid = await defaultKid(spec, material.publicJwk);
  const publicJwk = material.publicJwk === null ? undefined : withKeyMetadata(material.publicJwk, spec, kid, extra);
  let priv = material.private;
  if (priv?.kind === 'jwk') priv = { kind: 'jwk', jwk: withKeyMetadata(priv.jwk, spec, kid, extra) };
  return {
    spec,
    kid,
    thumbprint: publicJwk === undefined ? undefined : await thumbprint(publicJwk),
    publicJwk,
    private: priv,
  };
}

/**
 * Makes a new key with a backend: validates and completes the parameters, checks the backend
 * supports them, generates, and sets kid, use and alg.
 * @throws KeymintError ERR_PARAM_INVALID, ERR_ALG_NOT_SUPPORTED, or the backend's own errors
 * @example const key = await createKey(softwareBackend(), { kty: 'RSA', size: 3072 });
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-4
 */
export async function createKey(backend: KeyBackend, params: KeyParamsInput): Promise<NewKey> {
  const spec = resolveKeySpec(params);
  assertSupported(backend, spec);
  return finish(spec, await backend.generate(spec));
}

/** A key read from elsewhere (a PEM file), with what the source says about it. */
export interface ExistingKey {
  publicJwk: Jwk;
  privateJwk?: Jwk;
  x5c?: string[];
  /** The use the source dictates (a certificate's key usage). */
  use?: 'sig' | 'enc';
  /** Where it came from, for messages (a file name). */
  source?: string;
}

function conflict(flag: string, given: string, actual: string): KeymintError {
  return new KeymintError(ErrorCode.PARAM_INVALID, `${flag} ${given} does not match the key in the PEM input, which is ${actual}`, {
    hint: `leave out ${flag}: it is taken from the key`,
  });
}

/**
 * Gives an existing key (from --from-pem) keymint's kid, use and alg, with the same rules and
 * defaults as a new key. kty, crv and size come from the key; if given, they must match it.
 * @throws KeymintError ERR_PARAM_INVALID on a conflict or an invalid alg/use
 * @example const key = await adoptKey(await importPem(pem), { use: 'sig', alg: 'RS256', kid: 'client-1' });
 */
export async function adoptKey(existing: ExistingKey, params: KeyParamsInput): Promise<NewKey> {
  const jwk = existing.publicJwk;
  if (params.kty !== undefined && params.kty !== jwk.kty) throw conflict('--kty', params.kty, jwk.kty);
  if (params.crv !== undefined && typeof jwk.crv === 'string' && params.crv !== jwk.crv) throw conflict('--crv', params.crv, jwk.crv);
  const bits = keySizeBits(jwk);
  if (params.size !== undefined && bits !== undefined && String(params.size) !== String(bits)) {
    throw conflict('--size', String(params.size), `${jwk.kty} ${bits}`);
  }
  if (params.use !== undefined && existing.use !== undefined && params.use !== existing.use) {
    throw new KeymintError(ErrorCode.PARAM_INVALID, `--use ${params.use} conflicts with the certificate, whose key usage is for ${existing.use}`);
  }
  const spec = resolveKeySpec({
    ...params,
    kty: jwk.kty,
    // A --crv or --size the key type cannot have (--crv with RSA, --size with EC or OKP) is
    // refused by the same rules as for a new key, not silently dropped.
    crv: typeof jwk.crv === 'string' ? jwk.crv : params.crv,
    size: jwk.kty === 'RSA' ? bits : params.size,
    use: params.use ?? existing.use,
  });
  // The rules of every key read from outside (an RSA exponent of 1 is a valid PEM); the size was
  // checked above with --insecure's minimum, as for a new key.
  checkJwk(existing.privateJwk ?? jwk, existing.source ?? 'the PEM input', { insecure: params.insecure ?? false });
  const extra = existing.x5c === undefined ? undefined : { x5c: existing.x5c };
  const priv: PrivatePart | undefined = existing.privateJwk === undefined ? undefined : { kind: 'jwk', jwk: existing.privateJwk };
  return finish(spec, { publicJwk: jwk, private: priv }, extra);
}

export interface SaveOptions {
  publicPath: string;
  privatePath: string;
  /** The password the private JWK is encrypted under; null writes it in the clear. */
  password: string | null;
  pbes2Count?: number;
  /** Write the public file as a JWK Set. */
  jwks?: boolean;
  force?: boolean;
}

/** What `saveKey` wrote. */
export interface SavedFiles {
  /** Absent for an oct key kept in a backend: it has no public part and its secret stays there. */
  public: string | undefined;
  /** Absent when there was no private key (a public PEM or certificate). */
  private: string | undefined;
  /** How the private file holds the key. */
  privateForm: 'encrypted' | 'plain' | 'reference' | undefined;
  /** True for oct keys in hand, whose "public" file holds the secret. */
  publicHoldsSecret: boolean;
}

const json = (value: unknown) => JSON.stringify(value, null, 2) + '\n';

/**
 * The files of a key: the public JWK (or JWK Set), then the private file: a JWE when a password
 * is given, the plain JWK when not, or a key reference. oct keys have no public part: as in step,
 * the public file holds the whole key and is written 0600; an oct key kept in a backend gets only
 * its reference file, since its secret cannot leave.
 * @throws KeymintError ERR_PARAM_INVALID for an empty password
 */
export async function keyFiles(key: NewKey, options: SaveOptions): Promise<{ files: OutputFile[]; saved: SavedFiles }> {
  const priv = key.private;
  const files: OutputFile[] = [];
  const publicFile = (jwk: Jwk, mode: number) => files.push({ path: options.publicPath, content: json(options.jwks ? { keys: [jwk] } : jwk), mode });
  if (key.publicJwk !== undefined) publicFile(key.publicJwk, PUBLIC_FILE_MODE);
  else if (priv?.kind === 'jwk') publicFile(priv.jwk, PRIVATE_FILE_MODE);
  else if (priv === undefined) throw new KeymintError(ErrorCode.INPUT_INVALID, 'the key has neither a public part nor a private part to write');

  let privateForm: SavedFiles['privateForm'];
  if (priv?.kind === 'jwk') {
    const content =
      options.password === null
        ? json(priv.jwk)
        : await encryptJwk(priv.jwk, options.password, options.pbes2Count === undefined ? {} : { pbes2Count: options.pbes2Count });
    files.push({ path: options.privatePath, content, mode: PRIVATE_FILE_MODE });
    privateForm = options.password === null ? 'plain' : 'encrypted';
  } else if (priv?.kind === 'reference') {
    // A reference names its key's type and use even when there is no public JWK (oct).
    const described = key.publicJwk ?? withKeyMetadata({ kty: key.spec.kty }, key.spec, key.kid);
    files.push({ path: options.privatePath, content: serializeReference(priv.reference, described), mode: PRIVATE_FILE_MODE });
    privateForm = 'reference';
  }
  return {
    files,
    saved: {
      public: files.some((f) => f.path === options.publicPath) ? options.publicPath : undefined,
      private: privateForm === undefined ? undefined : options.privatePath,
      privateForm,
      publicHoldsSecret: key.publicJwk === undefined && priv?.kind === 'jwk',
    },
  };
}

/**
 * Writes a key's files atomically, public first: on any error neither file is left behind.
 * @throws KeymintError ERR_FILE_EXISTS, ERR_IO, ERR_USAGE (same path twice)
 * @example await saveKey(key, { publicPath: 'key.pub.json', privatePath: 'key.json', password });
 */
export async function saveKey(key: NewKey, options: SaveOptions): Promise<SavedFiles> {
  const { files, saved } = await keyFiles(key, options);
  await writeFilesAtomically(files, { force: options.force ?? false });
  return saved;
}
