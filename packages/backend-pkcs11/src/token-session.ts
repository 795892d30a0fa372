import type { Session } from 'graphene-pk11';
import { ErrorCode, KeymintError, type KeyTypeSupport } from '@keymint/core';
import type { SlotDescription, TokenDescription } from './describe-slots.js';
import type { KeyHandles } from './look-up-key.js';
import { toKeymintError } from './map-pkcs11-error.js';
import type { ModuleQuirks } from './module-quirks.js';
import { CKF_SESSION } from './pkcs11-constants.js';
import type { ModuleHandle } from './pkcs11-module.js';
import { retryTransient } from './retry-transient.js';
import type { MechanismTable } from './token-key-types.js';

/** What every session with one token shares, read once when the token is opened (see TokenPool). */
export interface TokenInfo {
  readonly module: ModuleHandle;
  readonly slot: SlotDescription & { token: TokenDescription };
  readonly mechanisms: MechanismTable;
  readonly quirks: ModuleQuirks;
  readonly keyTypes: readonly KeyTypeSupport[];
  /** `"label" (serial ...)`, for messages. */
  readonly name: string;
}

/**
 * One open session with a token, and what the token's sessions share. A session must not run two
 * operations at once, so its operations are queued; a TokenPool spreads concurrent operations
 * over several sessions. The key handles found on a session are kept with it (look-up-key.ts).
 */
export class TokenSession implements TokenInfo {
  readonly module: ModuleHandle;
  readonly slot: SlotDescription & { token: TokenDescription };
  readonly mechanisms: MechanismTable;
  readonly quirks: ModuleQuirks;
  readonly keyTypes: readonly KeyTypeSupport[];
  readonly name: string;
  readonly session: Session;
  /** Keys found on this session, by what names them; see lookUpKey. */
  readonly keyHandles: KeyHandles = new Map();
  #queue: Promise<unknown> = Promise.resolve();
  #pending = 0;
  #closing: Promise<void> | undefined;

  private constructor(token: TokenInfo, session: Session) {
    this.module = token.module;
    this.slot = token.slot;
    this.mechanisms = token.mechanisms;
    this.quirks = token.quirks;
    this.keyTypes = token.keyTypes;
    this.name = token.name;
    this.session = session;
  }

  /**
   * Opens a session (read-write unless the token is write-protected), trying again while SoftHSM
   * reports a passing CKR_GENERAL_ERROR. The module stays with the caller.
   * @throws KeymintError mapped from the module's error
   */
  static async open(token: TokenInfo): Promise<TokenSession> {
    const flags = CKF_SESSION.SERIAL_SESSION | (token.slot.token.writeProtected ? 0 : CKF_SESSION.RW_SESSION);
    try {
      return await retryTransient(token.quirks, () => new TokenSession(token, token.slot.slot.open(flags)));
    } catch (error) {
      throw toKeymintError(error, { action: 'opening a session', token: token.name });
    }
  }

  /** Operations queued or running on this session. */
  get pending(): number {
    return this.#pending;
  }

  /** Runs `operation` after every operation queued before it. */
  run<T>(operation: () => T | Promise<T>): Promise<T> {
    if (this.#closing !== undefined) {
      return Promise.reject(new KeymintError(ErrorCode.USAGE, `the session with token ${this.name} is closed`));
    }
    this.#pending += 1;
    const next = this.#queue.then(operation).finally(() => {
      this.#pending -= 1;
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Closes the session once the queued operations are done. Safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= this.#queue.then(() => {
      this.keyHandles.clear();
      try {
        this.session.close();
      } catch {
        // The token may be gone; there is nothing left to release on it.
      }
    });
    return this.#closing;
  }
}
