import type { Slot } from 'graphene-pk11';
import { CKF_TOKEN } from './pkcs11-constants.js';
import type { ModuleHandle } from './pkcs11-module.js';

/** What a token says about itself (CK_TOKEN_INFO), with its flags spelled out. */
export interface TokenDescription {
  label: string;
  manufacturer: string;
  model: string;
  serial: string;
  initialized: boolean;
  loginRequired: boolean;
  writeProtected: boolean;
  pinLocked: boolean;
  pinFinalTry: boolean;
  pinCountLow: boolean;
  protectedAuthenticationPath: boolean;
}

/** A slot and the token in it, if any. */
export interface SlotDescription {
  /** CK_SLOT_ID in decimal, as the URI's slot-id attribute writes it. */
  slotId: string;
  description: string;
  manufacturer: string;
  /** null when the slot is empty. */
  token: TokenDescription | null;
  /** The graphene slot, to open sessions with. */
  slot: Slot;
}

/** CK_SLOT_ID is a CK_ULONG; the binding hands it over as its bytes in host (little-endian) order. */
export function slotIdOf(handle: Buffer): string {
  let value = 0n;
  for (let i = handle.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(handle[i] as number);
  return value.toString();
}

/** Reads a token's information afresh: its PIN flags change as wrong PINs are tried. */
export function describeToken(slot: Slot): TokenDescription {
  const token = slot.getToken();
  const flags = token.flags as number;
  return {
    label: token.label.trim(),
    manufacturer: token.manufacturerID.trim(),
    model: token.model.trim(),
    serial: token.serialNumber.trim(),
    initialized: (flags & CKF_TOKEN.TOKEN_INITIALIZED) !== 0,
    loginRequired: (flags & CKF_TOKEN.LOGIN_REQUIRED) !== 0,
    writeProtected: (flags & CKF_TOKEN.WRITE_PROTECTED) !== 0,
    pinLocked: (flags & CKF_TOKEN.USER_PIN_LOCKED) !== 0,
    pinFinalTry: (flags & CKF_TOKEN.USER_PIN_FINAL_TRY) !== 0,
    pinCountLow: (flags & CKF_TOKEN.USER_PIN_COUNT_LOW) !== 0,
    protectedAuthenticationPath: (flags & CKF_TOKEN.PROTECTED_AUTHENTICATION_PATH) !== 0,
  };
}

/**
 * Every slot of a module, with the token in it.
 * @example describeSlots(handle).filter((s) => s.token?.initialized)
 */
export function describeSlots(handle: ModuleHandle): SlotDescription[] {
  const slots = handle.module.getSlots(false);
  const out: SlotDescription[] = [];
  for (let i = 0; i < slots.length; i++) {
    const slot = slots.items(i);
    const present = (slot.flags & handle.graphene.SlotFlag.TOKEN_PRESENT) !== 0;
    out.push({
      slotId: slotIdOf(slot.handle),
      description: slot.slotDescription.trim(),
      manufacturer: slot.manufacturerID.trim(),
      token: present ? describeToken(slot) : null,
      slot,
    });
  }
  return out;
}

/** "test" (serial a567894742dab078), for messages. */
export function describeTokenBriefly(token: TokenDescription): string {
  return token.serial === '' ? `"${token.label}"` : `"${token.label}" (serial ${token.serial})`;
}
