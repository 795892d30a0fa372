import type { ITemplate, SessionObject } from 'graphene-pk11';
import { ErrorCode, KeymintError, isKeymintError, type Curve } from '@keymint/core';
import { curveOfParams } from './ec-curves.js';
import { findObjects } from './find-objects.js';
import { percentEncodeBytes } from './percent-encoding.js';
import { CKK, CKO } from './pkcs11-constants.js';
import type { Pkcs11Uri } from './pkcs11-uri.js';
import type { TokenSession } from './token-session.js';

/** A private or secret key found on a token, with what signing needs to know of it. */
export interface TokenKey {
  object: SessionObject;
  keyClass: number;
  keyType: number;
  kty: 'RSA' | 'EC' | 'OKP' | 'oct';
  crv?: Curve;
  /** Bytes of the RSA modulus: the length of a signature. */
  modulusBytes?: number;
}

/** CKK_SHA_1_HMAC ... CKK_SHA512_HMAC: HMAC key types some tokens use instead of CKK_GENERIC_SECRET. */
const HMAC_KEY_TYPES = new Set([0x28, 0x2b, 0x2c, 0x2d, 0x2e]);

function describe(uri: Pkcs11Uri): string {
  const parts: string[] = [];
  if (uri.object !== undefined) parts.push(`label "${uri.object}"`);
  if (uri.id !== undefined) parts.push(`id ${percentEncodeBytes(uri.id)}`);
  return parts.join(' and ');
}

/**
 * A key whose modulus or curve reads empty: SoftHSM writes a new key's label and id before the
 * rest, so another process can find a key that is still being made.
 */
function incomplete(what: string): KeymintError {
  return new KeymintError(ErrorCode.KEY_NOT_FOUND, `the key has no ${what} yet: another program may be making it`);
}

/**
 * Reads the key type and, for EC and RSA keys, the curve or the modulus size.
 * @throws KeymintError ERR_ALG_NOT_SUPPORTED for a key keymint does not use; ERR_KEY_NOT_FOUND for one still being made
 */
export function describeKeyObject(object: SessionObject): Omit<TokenKey, 'object'> {
  const { class: keyClass, keyType } = object.getAttribute({ class: null, keyType: null }) as {
    class: number;
    keyType: number;
  };
  if (keyType === CKK.RSA) {
    const modulus = object.getAttribute('modulus') as Buffer;
    let bytes = modulus.length;
    for (let i = 0; i < modulus.length && modulus[i] === 0; i++) bytes--;
    if (bytes === 0) throw incomplete('modulus (CKA_MODULUS)');
    return { keyClass, keyType, kty: 'RSA', modulusBytes: bytes };
  }
  if (keyType === CKK.EC || keyType === CKK.EC_EDWARDS) {
    const params = object.getAttribute('paramsECDSA') as Buffer;
    if (params.length === 0) throw incomplete('curve (CKA_EC_PARAMS)');
    const curve = curveOfParams(params);
    return { keyClass, keyType, kty: curve.kty, crv: curve.crv };
  }
  if (keyType === CKK.AES || keyType === CKK.GENERIC_SECRET || HMAC_KEY_TYPES.has(keyType))
    return { keyClass, keyType, kty: 'oct' };
  throw new KeymintError(
    ErrorCode.ALG_NOT_SUPPORTED,
    `the key has PKCS#11 key type 0x${keyType.toString(16)}, which keymint does not use`,
  );
}

/**
 * The one private or secret key a URI names by `object` (label) and/or `id`, on a logged-in token.
 * `type=private` or `type=secret-key` narrows the search; other types name no signing key.
 * @throws KeymintError ERR_USAGE when the URI names no key or several; ERR_KEY_NOT_FOUND when none matches, or
 *   the one that does is still being made
 * @example findKey(token, parsePkcs11Uri('pkcs11:token=t;object=my-key;type=private'))
 */
export function findKey(token: TokenSession, uri: Pkcs11Uri): TokenKey {
  if (uri.object === undefined && uri.id === undefined) {
    throw new KeymintError(ErrorCode.USAGE, 'the PKCS#11 URI names no key: add object=<label> or id=<%xx bytes>');
  }
  if (uri.type !== undefined && uri.type !== 'private' && uri.type !== 'secret-key') {
    throw new KeymintError(
      ErrorCode.USAGE,
      `the PKCS#11 URI names a ${uri.type} object: a key that signs is type=private or type=secret-key`,
    );
  }
  const template: ITemplate = {};
  if (uri.object !== undefined) template.label = uri.object;
  if (uri.id !== undefined) template.id = Buffer.from(uri.id);
  if (uri.type !== undefined) template.class = uri.type === 'private' ? CKO.PRIVATE_KEY : CKO.SECRET_KEY;
  const found = findObjects(token, template).filter((o) => {
    const keyClass = o.getAttribute('class') as number;
    return keyClass === CKO.PRIVATE_KEY || keyClass === CKO.SECRET_KEY;
  });
  const [object] = found;
  if (object === undefined) {
    throw new KeymintError(
      ErrorCode.KEY_NOT_FOUND,
      `token ${token.name} has no private or secret key with ${describe(uri)}`,
      {
        hint: 'see keymint pkcs11 keys; the key may have been deleted, or the URI names another token',
      },
    );
  }
  if (found.length > 1) {
    throw new KeymintError(ErrorCode.USAGE, `${found.length} keys on token ${token.name} have ${describe(uri)}`, {
      hint: 'name the key by both object= and id=',
    });
  }
  try {
    return { object, ...describeKeyObject(object) };
  } catch (error) {
    if (!isKeymintError(error, ErrorCode.KEY_NOT_FOUND)) throw error;
    const message = `the key on token ${token.name} with ${describe(uri)} is not usable: ${error.message}`;
    throw new KeymintError(ErrorCode.KEY_NOT_FOUND, message, { cause: error });
  }
}
