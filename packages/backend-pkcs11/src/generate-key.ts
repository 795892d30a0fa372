import { randomBytes } from 'node:crypto';
import type { Session } from 'graphene-pk11';
import {
  ErrorCode,
  KeymintError,
  describeSpec,
  type GenerateContext,
  type GeneratedKey,
  type Jwk,
  type KeySpec,
} from '@keymint/core';
import { findObjects } from './find-objects.js';
import { formatPkcs11Uri } from './format-pkcs11-uri.js';
import { keyTemplates } from './key-templates.js';
import { pkcs11CodeOf, toKeymintError } from './map-pkcs11-error.js';
import { CKR } from './pkcs11-constants.js';
import { percentEncodeBytes } from './percent-encoding.js';
import { publicJwkOf } from './read-public-jwk.js';
import { isTransient, pauseBeforeRetry, retryTransient } from './retry-transient.js';
import type { TokenSession } from './token-session.js';
import { objectUri } from './token-uri.js';

/** The backend name that key references carry. */
export const PKCS11_BACKEND_NAME = 'pkcs11';

/** CKA_ID length of a new key when the URI gives none: random, so parallel processes never collide. */
const ID_BYTES = 16;

/** What the caller asks of the new key's names. */
export interface KeyNames {
  /** CKA_LABEL: the URI's `object`, else --kid; absent: the kid once the key exists (oct: the id in hex). */
  label?: string | undefined;
  /** CKA_ID: the URI's `id`, else random bytes. */
  id?: Uint8Array | undefined;
  /** pin-source to keep in the reference (a file path). */
  pinSource?: string | undefined;
}

function refuseExisting(token: TokenSession, what: 'label' | 'id', value: string | Buffer): void {
  const found = findObjects(token, what === 'label' ? { label: value as string } : { id: value as Buffer });
  if (found.length === 0) return;
  const shown = what === 'label' ? `"${String(value)}"` : percentEncodeBytes(value as Buffer);
  throw new KeymintError(
    ErrorCode.KEY_EXISTS,
    `token ${token.name} already has an object with ${what} ${shown}: keymint never replaces a key on a token`,
    {
      hint:
        what === 'label'
          ? 'choose another label with object= in the PKCS#11 URI or --kid'
          : 'choose another id= in the PKCS#11 URI, or leave it out for a random one',
    },
  );
}

type Lib = Session['lib'];

async function generate(
  token: TokenSession,
  spec: KeySpec,
  label: string,
  id: Uint8Array,
): Promise<{ publicHandle?: Buffer; keyHandle: Buffer; keyType: number }> {
  const { graphene } = token.module;
  const lib: Lib = token.session.lib;
  const templates = keyTemplates(spec, label, id, token.quirks);
  if (templates.kind === 'secret') {
    const handle = await lib.C_GenerateKeyAsync(
      token.session.handle,
      { mechanism: templates.mechanism },
      graphene.Template.toPkcs11(templates.template),
    );
    return { keyHandle: handle, keyType: templates.template.keyType as number };
  }
  const pair = await lib.C_GenerateKeyPairAsync(
    token.session.handle,
    { mechanism: templates.mechanism },
    graphene.Template.toPkcs11(templates.publicTemplate),
    graphene.Template.toPkcs11(templates.privateTemplate),
  );
  return {
    publicHandle: pair.publicKey,
    keyHandle: pair.privateKey,
    keyType: templates.privateTemplate.keyType as number,
  };
}

/**
 * Generates once; on SoftHSM, a passing CKR_GENERAL_ERROR is tried again, but only when nothing
 * with the new key's id reached the token: keymint never makes a key twice, and never deletes one.
 */
async function generateOnce(
  token: TokenSession,
  spec: KeySpec,
  label: string,
  id: Uint8Array,
): ReturnType<typeof generate> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await generate(token, spec, label, id);
    } catch (error) {
      if (!isTransient(token.quirks, error)) throw error;
      const leftovers = await retryTransient(token.quirks, () => findObjects(token, { id: Buffer.from(id) }));
      if (leftovers.length > 0 || !(await pauseBeforeRetry(attempt))) throw error;
    }
  }
}

/**
 * Gives a new key pair its kid as CKA_LABEL on both halves, unless an object already has that
 * label (then the provisional label stays: nothing on a token is ever replaced).
 */
async function relabel(token: TokenSession, handles: Buffer[], provisional: string, label: string): Promise<string> {
  const { graphene } = token.module;
  const objects = handles.map((handle) => new graphene.SessionObject(handle, token.session, token.session.lib));
  try {
    if ((await retryTransient(token.quirks, () => findObjects(token, { label }))).length > 0) return provisional;
    await retryTransient(token.quirks, () => {
      for (const object of objects) object.setAttribute({ label });
    });
    return label;
  } catch {
    // A token may refuse to change CKA_LABEL; the key is still usable under its id and first label.
    for (const object of objects) {
      try {
        object.setAttribute({ label: provisional });
      } catch {
        // Left as the token has it.
      }
    }
    return provisional;
  }
}

/** A random CKA_ID for a new key: parallel processes never pick the same one. */
export function newKeyId(): Uint8Array {
  return randomBytes(ID_BYTES);
}

/**
 * Makes a key on a logged-in token: refuses a label or id that exists, generates with the
 * templates of `keyTemplates`, reads the public JWK and names the key by its kid. Returns the
 * public JWK and a reference holding the key's URI (no PIN). An error once the key exists says so,
 * with its id, and is never one to try again (its cause is not the module's error).
 * @throws KeymintError ERR_KEY_EXISTS, ERR_TOKEN_READ_ONLY, ERR_TOKEN_FULL, ERR_ALG_NOT_SUPPORTED ...
 * @example await generateOnToken(token, spec, { id: newKeyId() }, generateContext)
 */
export async function generateOnToken(
  token: TokenSession,
  spec: KeySpec,
  names: KeyNames,
  core: Pick<GenerateContext, 'kid'>,
): Promise<GeneratedKey> {
  // Every kty (EC, OKP, RSA, oct) is read with a vowel sound: "an".
  const context = { action: `creating an ${describeSpec(spec)} key`, token: token.name };
  if (token.slot.token.writeProtected) {
    throw new KeymintError(
      ErrorCode.TOKEN_READ_ONLY,
      `${context.action} on token ${context.token} failed: the token is write-protected`,
    );
  }
  const quirks = token.quirks;
  const id = names.id ?? newKeyId();
  const asked = names.label ?? spec.kid;
  const provisional = asked ?? Buffer.from(id).toString('hex');
  let made: Awaited<ReturnType<typeof generate>>;
  try {
    await retryTransient(quirks, () => refuseExisting(token, 'id', Buffer.from(id)));
    if (asked !== undefined) await retryTransient(quirks, () => refuseExisting(token, 'label', asked));
    made = await generateOnce(token, spec, provisional, id);
  } catch (error) {
    const mapped = toKeymintError(error, context);
    if (pkcs11CodeOf(error) === CKR.GENERAL_ERROR && quirks.keygenFailureHint !== undefined) {
      throw new KeymintError(mapped.code, mapped.message, { cause: error, hint: quirks.keygenFailureHint });
    }
    throw mapped;
  }
  try {
    let publicJwk: Jwk | null = null;
    let label = provisional;
    if (made.publicHandle !== undefined) {
      const { graphene } = token.module;
      const publicKey = new graphene.SessionObject(made.publicHandle, token.session, token.session.lib);
      publicJwk = await retryTransient(quirks, () => publicJwkOf(publicKey, made.keyType));
      if (asked === undefined) {
        const kid = (await core.kid(publicJwk)) as string;
        label = await relabel(token, [made.publicHandle, made.keyHandle], provisional, kid);
      }
    }
    const uri = objectUri(
      token,
      { object: label, id, type: made.publicHandle === undefined ? 'secret-key' : 'private' },
      names.pinSource,
    );
    return {
      publicJwk,
      private: {
        kind: 'reference',
        reference: { backend: PKCS11_BACKEND_NAME, location: { uri: formatPkcs11Uri(uri) } },
      },
    };
  } catch (error) {
    const mapped = toKeymintError(error, context);
    // The key is on the token now: name it, and wrap the cause so that nobody makes it again.
    throw new KeymintError(
      mapped.code,
      `${mapped.message} after the key was made (label "${provisional}", id ${percentEncodeBytes(id)})`,
      {
        cause: mapped,
        hint: 'the key is on the token; see keymint pkcs11 keys',
      },
    );
  }
}
