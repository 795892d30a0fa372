import type { TokenSession } from './token-session.js';
import type { Pkcs11ObjectType, Pkcs11Uri } from './pkcs11-uri.js';

/**
 * The URI of an object on a token, as keymint stores it in a key reference: the token by label,
 * manufacturer, model and serial, the object by label, id and type, and the module path. It
 * never has pin-value. pin-source is kept when it names a file: a path is not a secret, and it
 * lets a later command sign without asking.
 * @example objectUri(token, { object: 'my-key', id, type: 'private' }, uri.pinSource)
 * @see https://www.rfc-editor.org/rfc/rfc7512#section-2.3
 */
export function objectUri(
  token: TokenSession,
  object: { object?: string | undefined; id?: Uint8Array | undefined; type?: Pkcs11ObjectType | undefined },
  pinSource?: string,
): Pkcs11Uri {
  const t = token.slot.token;
  const uri: Pkcs11Uri = { token: t.label, manufacturer: t.manufacturer, model: t.model };
  if (t.serial !== '') uri.serial = t.serial;
  if (object.object !== undefined) uri.object = object.object;
  if (object.type !== undefined) uri.type = object.type;
  if (object.id !== undefined) uri.id = object.id;
  uri.modulePath = token.module.info.path;
  if (pinSource !== undefined) uri.pinSource = pinSource;
  return uri;
}
