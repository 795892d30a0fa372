import {
  ErrorCode,
  KeymintError,
  adoptKey,
  assertSupported,
  checkOutputs,
  checkPbes2Count,
  createKey,
  describeJwk,
  importPem,
  readInput,
  resolveKeySpec,
  saveKey,
  thumbprintUri,
  type KeyBackend,
  type KeyParamsInput,
  type NewKey,
} from '@keymint/core';
import { backendContext, openBackend } from '../backends/index.js';
import type { CommandResult } from '../output.js';
import { existingPassword, newPassword } from '../password.js';

/** The options of `keymint create`, as commander parses them. */
export interface CreateOptions {
  type?: string;
  curve?: string;
  size?: string;
  algorithm?: string;
  use?: string;
  kid?: string;
  fromPem?: string;
  passwordFile?: string;
  /** false when --no-password is given. */
  password: boolean;
  insecure?: boolean;
  force?: boolean;
  subtle?: boolean;
  backend: string;
  pemPasswordFile?: string;
  pbes2Count?: string;
  jwks?: boolean;
  json?: boolean;
}

function usage(message: string, hint?: string): KeymintError {
  return new KeymintError(ErrorCode.USAGE, message, hint === undefined ? {} : { hint });
}

/** Rules between flags that no single parameter can check. */
function checkFlags(options: CreateOptions): void {
  if (!options.password && !options.insecure) throw usage('--no-password requires --insecure: it writes the private key unencrypted');
  if (!options.password && options.passwordFile !== undefined) throw usage('--no-password and --password-file cannot be used together');
  if (options.pemPasswordFile !== undefined && options.fromPem === undefined) throw usage('--pem-password-file is only used with --from-pem');
  if (options.fromPem !== undefined && options.backend !== 'software') {
    throw usage(`--from-pem works with --backend software only: the ${options.backend} backend makes its own keys`);
  }
}

function keyParams(options: CreateOptions): KeyParamsInput {
  return {
    kty: options.type,
    crv: options.curve,
    size: options.size,
    alg: options.algorithm,
    use: options.use,
    kid: options.kid,
    insecure: options.insecure ?? false,
    subtle: options.subtle ?? false,
  };
}

async function fromPem(options: CreateOptions, params: KeyParamsInput): Promise<NewKey> {
  const source = options.fromPem as string;
  const text = await readInput(source, '--from-pem');
  const imported = await importPem(text, {
    source,
    subtle: options.subtle ?? false,
    password: () => existingPassword(source, { file: options.pemPasswordFile, noPrompt: options.json ?? false, flag: '--pem-password-file' }),
  });
  return adoptKey(imported, params);
}

/**
 * `keymint create`: makes a key (or adopts one from a PEM file) and writes the public JWK and the
 * private file. Everything that can be checked is checked before a password is asked for.
 */
export async function createCommand(publicPath: string, privatePath: string, options: CreateOptions): Promise<CommandResult> {
  checkFlags(options);
  const params = keyParams(options);
  const pbes2Count = options.pbes2Count === undefined ? undefined : checkPbes2Count(options.pbes2Count);
  let backend: KeyBackend | undefined;
  try {
    let adopted: NewKey | undefined;
    // What create reads must not be what it writes: with --force it would replace its own input.
    const inputs = [
      [options.fromPem, '--from-pem'],
      [options.pemPasswordFile, '--pem-password-file'],
      [options.passwordFile, '--password-file'],
    ] as const;
    if (options.fromPem !== undefined) {
      // Before the PEM is read (it may ask for its password): two distinct files that can be
      // written, and a free public path. The private path must be free only for a private key.
      await checkOutputs([publicPath, privatePath], { force: true, inputs });
      await checkOutputs([publicPath], { force: options.force ?? false });
      adopted = await fromPem(options, params);
      if (adopted.private !== undefined) await checkOutputs([privatePath], { force: options.force ?? false });
    } else {
      backend = await openBackend(options.backend, backendContext(options as unknown as Record<string, unknown>));
      assertSupported(backend, resolveKeySpec(params));
      await checkOutputs([publicPath, privatePath], { force: options.force ?? false, inputs });
    }
    const needsPassword = adopted !== undefined ? adopted.private !== undefined : (backend as KeyBackend).capabilities.exportable;
    let password: string | null = null;
    if (options.password && needsPassword) {
      password = await newPassword('the private JWK', { file: options.passwordFile, noPrompt: options.json ?? false, flag: '--password-file' }, ', or --no-password --insecure');
    }
    const key = adopted ?? (await createKey(backend as KeyBackend, params));
    const saved = await saveKey(key, {
      publicPath,
      privatePath,
      password,
      ...(pbes2Count === undefined ? {} : { pbes2Count }),
      jwks: options.jwks ?? false,
      force: options.force ?? false,
    });
    const describedJwk = key.publicJwk ?? (key.private?.kind === 'jwk' ? key.private.jwk : undefined);
    const notes =
      saved.public !== undefined
        ? [`Your public key has been saved in ${saved.public}.`]
        : [`An oct key has no public part and its secret stays in the ${String(backend?.name)} backend: ${publicPath} was not written.`];
    if (saved.private !== undefined) notes.push(`Your private key has been saved in ${saved.private} (${saved.privateForm === 'encrypted' ? 'encrypted' : saved.privateForm === 'plain' ? 'NOT encrypted' : `a reference to the key in the ${String(backend?.name)} backend`}).`);
    else notes.push(`The PEM input holds only a public key: ${privatePath} was not written.`);
    if (saved.publicHoldsSecret) notes.push(`Note: an oct key has no public part: ${saved.public} holds the secret key and was written with mode 0600.`);
    if (key.kid !== undefined) notes.push(`kid: ${key.kid}`);
    return {
      notes,
      json: {
        kid: key.kid ?? null,
        thumbprint: key.thumbprint ?? null,
        thumbprintUri: key.publicJwk === undefined ? null : await thumbprintUri(key.publicJwk),
        key: describedJwk === undefined ? null : describeJwk(describedJwk),
        kty: key.spec.kty,
        crv: key.spec.crv ?? null,
        size: key.spec.size ?? null,
        alg: key.spec.alg ?? null,
        use: key.spec.use,
        backend: options.fromPem !== undefined ? 'software' : (backend as KeyBackend).name,
        files: { public: saved.public ?? null, private: saved.private ?? null },
        privateKey: saved.privateForm ?? null,
        publicHoldsSecret: saved.publicHoldsSecret,
        publicJwk: key.publicJwk ?? null,
      },
    };
  } finally {
    await backend?.close();
  }
}
