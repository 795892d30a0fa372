import { assertSupported, type GenerateContext, type KeyBackend, type PrivatePart } from './backend.js';
import { ErrorCode, KeymintError, message, param } from './errors.js';
import { PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, checkOutputs, writeFilesAtomically, type OutputFile } from './files.js';
import { checkJwk, keySizeBits, orderJwk, type Jwk } from './jwk.js';
import { checkPassword } from './password.js';
import { serializeReference } from './key-document.js';
import type { OpenedKey } from './open-key.js';
import { resolveKeySpec, type KeyParams, type KeySpec } from './params.js';
import { thumbprint } from './thumbprint.js';

/**
 * A key that keymint made or adopted: kid, use and alg set on both halves. A key with a private
 * part is an `OpenedKey` too: it signs through the backend that holds it.
 */
export interface NewKey extends Omit<OpenedKey, 'private'> {
  spec: KeySpec;
  /** The kid: the one asked for, else the RFC 7638 thumbprint; none for oct keys unless given. */
  kid: string | undefined;
  /** RFC 7638 SHA-256 thumbprint of the public key; undefined for oct keys. */
  thumbprint: string | undefined;
  /** The private JWK when it may leave the backend, or where the backend keeps the key; none for a public key adopted alone. */
  private: PrivatePart | undefined;
}

/** A key made by a backend: it always has a private part, and so can sign (`signJwt(key, ...)`). */
export type CreatedKey = NewKey & OpenedKey;

/**
 * The kid keymint gives a new key: the one asked for, else the RFC 7638 SHA-256 thumbprint.
 * oct keys get none: a hash of a secret tells something about the secret.
 * @see https://www.rfc-editor.org/rfc/rfc7638#section-3
 */
export async function defaultKid(
  spec: Pick<KeySpec, 'kty' | 'kid'>,
  publicJwk: Jwk | null | undefined,
): Promise<string | undefined> {
  if (spec.kid !== undefined) return spec.kid;
  if (spec.kty === 'oct' || publicJwk == null) return undefined;
  return thumbprint(publicJwk);
}

/** A JWK with keymint's metadata: the kid (if any), the use and the alg of its spec, in keymint's member order. */
function withKeyMetadata(jwk: Jwk, spec: KeySpec, kid: string | undefined, extra: Partial<Jwk> = {}): Jwk {
  const out: Jwk = { ...jwk, ...extra };
  if (kid !== undefined) out.kid = kid;
  out.use = spec.use;
  if (spec.alg !== undefined) out.alg = spec.alg;
  return orderJwk(out);
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

/** Where `executeKeyPlan` writes a key, checked when the key is planned. */
export interface KeyOutputs {
  publicPath: string;
  privatePath: string;
  /** Write the public file as a JWK Set. */
  jwks?: boolean;
  /** Replace files that exist. */
  force?: boolean;
  /** Files this run reads, each with the name it was given by ('--from-pem'): no output may be one of them. */
  inputs?: readonly (readonly [path: string | undefined, name: string])[];
}

export interface PlanOptions {
  /** The files to write: checked now, before a key is made or a password asked for. */
  outputs?: KeyOutputs;
  /** Write a private key that leaves its backend without encryption: needs `insecure` in the parameters. */
  unencrypted?: boolean;
  /** Adopt this key (read from a PEM file) instead of making one: kty, crv and size come from it. */
  existing?: ExistingKey;
}

/** What `planKey` decided: everything is checked, nothing is made or written yet. */
export interface KeyPlan {
  readonly backend: KeyBackend;
  readonly spec: KeySpec;
  /** True when the private key will be written encrypted and so needs a password. */
  readonly needsPassword: boolean;
  /** True when the private key will leave the backend and be written unencrypted. */
  readonly unencrypted: boolean;
  readonly outputs: KeyOutputs | undefined;
  readonly existing: ExistingKey | undefined;
}

function conflict(name: string, given: string, actual: string, source: string): KeymintError {
  return new KeymintError(
    ErrorCode.PARAM_INVALID,
    message`${param(name)} ${given} does not match the key in ${source}, which is ${actual}`,
    {
      param: name,
      hint: message`leave out ${param(name)}: it is taken from the key`,
    },
  );
}

/** The spec of an adopted key: its kty, crv and size, the caller's use, alg and kid, checked by the same rules. */
function adoptedSpec(existing: ExistingKey, params: KeyParams): KeySpec {
  const jwk = existing.publicJwk;
  const source = existing.source ?? 'the PEM input';
  if (params.kty !== undefined && params.kty !== jwk.kty) throw conflict('kty', params.kty, jwk.kty, source);
  if (params.crv !== undefined && typeof jwk.crv === 'string' && params.crv !== jwk.crv)
    throw conflict('crv', params.crv, jwk.crv, source);
  const bits = keySizeBits(jwk);
  if (params.size !== undefined && bits !== undefined && String(params.size) !== String(bits)) {
    throw conflict('size', String(params.size), `${jwk.kty} ${bits}`, source);
  }
  if (params.use !== undefined && existing.use !== undefined && params.use !== existing.use) {
    throw new KeymintError(
      ErrorCode.PARAM_INVALID,
      message`${param('use')} ${params.use} conflicts with the certificate, whose key usage is for ${existing.use}`,
      { param: 'use' },
    );
  }
  const spec = resolveKeySpec({
    ...params,
    kty: jwk.kty as KeyParams['kty'],
    // A crv or size the key type cannot have (crv with RSA, size with EC or OKP) is refused by
    // the same rules as for a new key, not silently dropped.
    crv: (typeof jwk.crv === 'string' ? jwk.crv : params.crv) as KeyParams['crv'],
    size: jwk.kty === 'RSA' ? bits : params.size,
    use: params.use ?? existing.use,
  } as KeyParams);
  // The rules of every key read from outside (an RSA exponent of 1 is a valid PEM); the size was
  // checked above with insecure's minimum, as for a new key.
  checkJwk(existing.privateJwk ?? jwk, source, { insecure: params.insecure ?? false });
  return spec;
}

/**
 * Decides everything about a new key before anything is made: validates and completes the
 * parameters (defaults, kid), checks the backend can make it, decides whether the private part
 * must be encrypted (it must, whenever it leaves its backend, unless `unencrypted` with
 * `insecure`), and checks the files it will be written to. The CLI and the API go through here.
 * @throws KeymintError ERR_PARAM_INVALID (naming the parameter), ERR_ALG_NOT_SUPPORTED,
 *   ERR_FILE_EXISTS, ERR_IO, ERR_USAGE (the same file twice)
 * @example const plan = await planKey(backend, { kty: 'EC', crv: 'P-384' }, { outputs: { publicPath: 'k.pub.json', privatePath: 'k.json' } });
 */
export async function planKey(backend: KeyBackend, params: KeyParams, options: PlanOptions = {}): Promise<KeyPlan> {
  if (options.unencrypted && !params.insecure) {
    throw new KeymintError(
      ErrorCode.USAGE,
      message`${param('unencrypted')} requires ${param('insecure')}: it writes the private key unencrypted`,
      { param: 'unencrypted' },
    );
  }
  const existing = options.existing;
  const spec = existing === undefined ? resolveKeySpec(params) : adoptedSpec(existing, params);
  if (existing === undefined) assertSupported(backend, spec);
  const leaves = existing === undefined ? backend.capabilities.exportable : existing.privateJwk !== undefined;
  const outputs = options.outputs;
  if (outputs !== undefined) {
    // Two distinct paths that can be written; the private one must be free only when it is written.
    await checkOutputs([outputs.publicPath, outputs.privatePath], {
      force: true,
      ...(outputs.inputs === undefined ? {} : { inputs: outputs.inputs }),
    });
    const written =
      existing !== undefined && existing.privateJwk === undefined
        ? [outputs.publicPath]
        : [outputs.publicPath, outputs.privatePath];
    await checkOutputs(written, { force: outputs.force ?? false });
  }
  return {
    backend,
    spec,
    needsPassword: leaves && !options.unencrypted,
    unencrypted: leaves && (options.unencrypted ?? false),
    outputs,
    existing,
  };
}

/** What core tells a backend making a key for `spec` (exported for tests that call `generate` directly). */
export function generateContext(spec: KeySpec): GenerateContext {
  return { kid: (publicJwk) => defaultKid(spec, publicJwk), privateJwk: (jwk, kid) => withKeyMetadata(jwk, spec, kid) };
}

async function finish(
  plan: KeyPlan,
  material: { publicJwk: Jwk | null; private: PrivatePart | undefined },
  extra?: Partial<Jwk>,
): Promise<NewKey> {
  const { spec } = plan;
  const kid = await defaultKid(spec, material.publicJwk);
  const publicJwk = material.publicJwk === null ? undefined : withKeyMetadata(material.publicJwk, spec, kid, extra);
  let priv = material.private;
  if (priv?.kind === 'jwk') priv = { kind: 'jwk', jwk: withKeyMetadata(priv.jwk, spec, kid, extra) };
  return {
    spec,
    kid,
    thumbprint: publicJwk === undefined ? undefined : await thumbprint(publicJwk),
    publicJwk,
    // What describes the key (type, kid, use, alg) whichever half is at hand: an oct key has no public half.
    jwk: publicJwk ?? (priv?.kind === 'jwk' ? priv.jwk : withKeyMetadata({ kty: spec.kty }, spec, kid)),
    private: priv,
    backend: plan.backend,
  };
}

/**
 * Makes (or adopts) the key a plan describes, without writing anything.
 * @throws KeymintError the backend's own errors
 */
export async function generatePlannedKey(plan: KeyPlan): Promise<NewKey> {
  const { existing } = plan;
  if (existing !== undefined) {
    const extra = existing.x5c === undefined ? undefined : { x5c: existing.x5c };
    const priv: PrivatePart | undefined =
      existing.privateJwk === undefined ? undefined : { kind: 'jwk', jwk: existing.privateJwk };
    return finish(plan, { publicJwk: existing.publicJwk, private: priv }, extra);
  }
  return finish(plan, await plan.backend.generate(plan.spec, generateContext(plan.spec)));
}

export interface ExecuteOptions {
  /** The password the private key is encrypted under, when the plan needs one. */
  password?: string | undefined;
  /** PBES2 iterations; default 600000. */
  pbes2Count?: number | undefined;
}

/** A key made by `executeKeyPlan`, and the files it was written to. */
export interface ExecutedPlan {
  key: NewKey;
  saved: SavedFiles | undefined;
}

/**
 * Carries out a plan: makes (or adopts) the key, then, when the plan has outputs, writes its files
 * atomically, the private one encrypted under `password` unless the plan says otherwise.
 * @throws KeymintError ERR_PASSWORD_REQUIRED when the plan needs a password and none is given,
 *   ERR_PARAM_INVALID for an empty one, the backend's errors, ERR_FILE_EXISTS and ERR_IO
 * @example const { key, saved } = await executeKeyPlan(plan, { password });
 */
export async function executeKeyPlan(plan: KeyPlan, options: ExecuteOptions = {}): Promise<ExecutedPlan> {
  const password = options.password;
  if (plan.outputs !== undefined && plan.needsPassword && password === undefined) {
    throw new KeymintError(
      ErrorCode.PASSWORD_REQUIRED,
      'the private key leaves its backend and is written encrypted: a password is needed',
      {
        hint: message`give one, or ${param('unencrypted')} with ${param('insecure')}`,
      },
    );
  }
  if (password !== undefined) checkPassword(password);
  const key = await generatePlannedKey(plan);
  if (plan.outputs === undefined) return { key, saved: undefined };
  const saved = await saveKey(key, {
    ...plan.outputs,
    password: plan.needsPassword ? (password as string) : null,
    pbes2Count: options.pbes2Count,
  });
  return { key, saved };
}

/**
 * Makes a new key with a backend, without writing it: `planKey` then the backend. The key can
 * sign at once (`signJwt(key, claims)`) and be saved with `saveKey`.
 * @throws KeymintError ERR_PARAM_INVALID, ERR_ALG_NOT_SUPPORTED, or the backend's own errors
 * @example const key = await createKey(await softwareBackend(), { kty: 'RSA', size: 3072 });
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-4
 */
export async function createKey(backend: KeyBackend, params: KeyParams = {}): Promise<CreatedKey> {
  return (await generatePlannedKey(await planKey(backend, params))) as CreatedKey;
}

export interface SaveOptions {
  publicPath: string;
  privatePath: string;
  /** The password the private JWK is encrypted under; null writes it in the clear. */
  password: string | null;
  pbes2Count?: number | undefined;
  /** Write the public file as a JWK Set. */
  jwks?: boolean | undefined;
  force?: boolean | undefined;
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

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

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
  const publicFile = (jwk: Jwk, mode: number) =>
    files.push({ path: options.publicPath, content: json(options.jwks ? { keys: [jwk] } : jwk), mode });
  if (key.publicJwk !== undefined) publicFile(key.publicJwk, PUBLIC_FILE_MODE);
  else if (priv?.kind === 'jwk') publicFile(priv.jwk, PRIVATE_FILE_MODE);
  else if (priv === undefined)
    throw new KeymintError(ErrorCode.INPUT_INVALID, 'the key has neither a public part nor a private part to write');

  let privateForm: SavedFiles['privateForm'];
  if (priv?.kind === 'jwk') {
    let content = json(priv.jwk);
    if (options.password !== null) {
      // The JWE code (and jose) loads only when a key is written encrypted.
      const { encryptJwk } = await import('./jwe.js');
      content = await encryptJwk(
        priv.jwk,
        checkPassword(options.password),
        options.pbes2Count === undefined ? {} : { pbes2Count: options.pbes2Count },
      );
    }
    files.push({ path: options.privatePath, content, mode: PRIVATE_FILE_MODE });
    privateForm = options.password === null ? 'plain' : 'encrypted';
  } else if (priv?.kind === 'reference') {
    // A reference names its key's type and use even when there is no public JWK (oct).
    files.push({
      path: options.privatePath,
      content: serializeReference(priv.reference, key.jwk),
      mode: PRIVATE_FILE_MODE,
    });
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
