import { ErrorCode, KeymintError } from '@keymint/core';
import { describeSlots, describeTokenBriefly, type SlotDescription, type TokenDescription } from './describe-slots.js';
import { hasNoServer } from './module-quirks.js';
import type { ModuleHandle, ModuleInfo } from './pkcs11-module.js';
import type { Pkcs11Uri } from './pkcs11-uri.js';

function libraryMatches(uri: Pkcs11Uri, info: ModuleInfo): boolean {
  if (uri.libraryManufacturer !== undefined && uri.libraryManufacturer !== info.manufacturer) return false;
  if (uri.libraryDescription !== undefined && uri.libraryDescription !== info.description) return false;
  if (uri.libraryVersion !== undefined) {
    // RFC 7512 §2.3: "library-version=3" means 3.0.
    const [major, minor = '0'] = uri.libraryVersion.split('.');
    if (`${Number(major)}.${Number(minor)}` !== info.version) return false;
  }
  return true;
}

function slotMatches(uri: Pkcs11Uri, slot: SlotDescription): slot is SlotDescription & { token: TokenDescription } {
  const token = slot.token;
  if (token === null || !token.initialized) return false;
  return (
    (uri.token === undefined || uri.token === token.label) &&
    (uri.manufacturer === undefined || uri.manufacturer === token.manufacturer) &&
    (uri.serial === undefined || uri.serial === token.serial) &&
    (uri.model === undefined || uri.model === token.model) &&
    (uri.slotId === undefined || uri.slotId === slot.slotId) &&
    (uri.slotDescription === undefined || uri.slotDescription === slot.description) &&
    (uri.slotManufacturer === undefined || uri.slotManufacturer === slot.manufacturer)
  );
}

function allOf(values: readonly string[]): string {
  return values.length <= 1 ? values.join('') : `${values.slice(0, -1).join(', ')} and ${values[values.length - 1]}`;
}

/** "token=test;serial=..." : the attributes of the URI that choose a token, for messages. */
function selector(uri: Pkcs11Uri): string {
  const parts: string[] = [];
  if (uri.token !== undefined) parts.push(`token "${uri.token}"`);
  if (uri.serial !== undefined) parts.push(`serial ${uri.serial}`);
  if (uri.slotId !== undefined) parts.push(`slot-id ${uri.slotId}`);
  for (const [name, value] of [
    ['manufacturer', uri.manufacturer],
    ['model', uri.model],
    ['slot-description', uri.slotDescription],
    ['slot-manufacturer', uri.slotManufacturer],
    ['library-manufacturer', uri.libraryManufacturer],
    ['library-description', uri.libraryDescription],
    ['library-version', uri.libraryVersion],
  ] as const) {
    if (value !== undefined) parts.push(`${name} "${value}"`);
  }
  return parts.length === 0 ? 'any token' : parts.join(', ');
}

/**
 * The one initialized token a URI chooses, by token label, serial, slot-id and the other token,
 * slot and library attributes. A URI that names no token chooses the module's only token.
 * @throws KeymintError ERR_TOKEN_NOT_FOUND listing the tokens the module has; ERR_USAGE when
 *   more than one token matches; ERR_BACKEND_UNAVAILABLE when the module is p11-kit's client with no server
 * @example selectSlot(handle, parsePkcs11Uri('pkcs11:token=test')).token.serial
 * @see https://www.rfc-editor.org/rfc/rfc7512#section-2.3
 */
export function selectSlot(handle: ModuleHandle, uri: Pkcs11Uri): SlotDescription & { token: TokenDescription } {
  const slots = describeSlots(handle);
  const tokens = slots.filter((s): s is SlotDescription & { token: TokenDescription } => s.token?.initialized === true);
  const matching = libraryMatches(uri, handle.info) ? tokens.filter((s) => slotMatches(uri, s)) : [];
  const only = matching[0];
  if (only !== undefined && matching.length === 1) return only;
  const existing = tokens.map((s) => `${describeTokenBriefly(s.token)} in slot ${s.slotId}`);
  if (matching.length === 0) {
    if (tokens.length === 0 && hasNoServer(handle.info)) {
      const module = `the PKCS#11 module ${handle.info.path} is p11-kit's client`;
      const message = `${selector(uri)} is unavailable: ${module}, and it reaches no server`;
      throw new KeymintError(ErrorCode.BACKEND_UNAVAILABLE, message, {
        hint: 'start the p11-kit server, or check P11_KIT_SERVER_ADDRESS',
      });
    }
    const has = existing.length === 0 ? 'it has no initialized token' : `its tokens are ${allOf(existing)}`;
    throw new KeymintError(
      ErrorCode.TOKEN_NOT_FOUND,
      `no token matches ${selector(uri)} in the PKCS#11 module ${handle.info.path}: ${has}`,
      {
        hint:
          existing.length === 0
            ? 'initialize one (SoftHSM: softhsm2-util --init-token --free --label NAME)'
            : 'see keymint pkcs11 tokens',
      },
    );
  }
  throw new KeymintError(
    ErrorCode.USAGE,
    `${matching.length} tokens match ${selector(uri)} in ${handle.info.path}: ${matching.map((s) => describeTokenBriefly(s.token)).join(', ')}`,
    {
      hint: 'choose one with token=, serial= or slot-id= in the PKCS#11 URI',
    },
  );
}
