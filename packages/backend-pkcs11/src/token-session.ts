import type { Session } from 'graphene-pk11';
import { ErrorCode, KeymintError, type KeyTypeSupport } from '@keymint/core';
import { describeToken, describeTokenBriefly, type SlotDescription, type TokenDescription } from './describe-slots.js';
import { toKeymintError, pkcs11CodeOf } from './map-pkcs11-error.js';
import { quirksOf, type ModuleQuirks } from './module-quirks.js';
import { CKF_SESSION, CKR, CKU_USER } from './pkcs11-constants.js';
import type { ModuleHandle } from './pkcs11-module.js';
import type { Pkcs11Uri } from './pkcs11-uri.js';
import { PIN_ENV, resolvePin, type PinSources } from './resolve-pin.js';
import { retryTransient } from './retry-transient.js';
import { readMechanisms, tokenKeyTypes, type MechanismTable } from './token-key-types.js';

/**
 * One open session with one token, reused for everything a backend does there: PKCS#11 logs in
 * per application and token, so one logged-in session serves a whole batch of keys. Operations
 * are queued: a session must not run two operations at once.
 */
export class TokenSession {
  readonly module: ModuleHandle;
  readonly slot: SlotDescription & { token: TokenDescription };
  readonly session: Session;
  readonly mechanisms: MechanismTable;
  readonly quirks: ModuleQuirks;
  readonly keyTypes: readonly KeyTypeSupport[];
  /** `"label" (serial ...)`, for messages. */
  readonly name: string;
  #queue: Promise<unknown> = Promise.resolve();
  #loggedIn = false;
  #closing: Promise<void> | undefined;

  private constructor(module: ModuleHandle, slot: SlotDescription & { token: TokenDescription }, session: Session) {
    this.module = module;
    this.slot = slot;
    this.session = session;
    this.name = describeTokenBriefly(slot.token);
    this.quirks = quirksOf(module.info);
    this.mechanisms = readMechanisms(slot.slot);
    this.keyTypes = tokenKeyTypes(this.mechanisms, this.quirks);
  }

  /**
   * Opens a session (read-write unless the token is write-protected) and reads the token's
   * mechanisms, trying again while SoftHSM reports a passing CKR_GENERAL_ERROR. Takes over
   * `module`: closing the session releases it, and so does a failure here.
   * @throws KeymintError mapped from the module's error
   */
  static async open(module: ModuleHandle, slot: SlotDescription & { token: TokenDescription }): Promise<TokenSession> {
    const flags = CKF_SESSION.SERIAL_SESSION | (slot.token.writeProtected ? 0 : CKF_SESSION.RW_SESSION);
    try {
      return await retryTransient(quirksOf(module.info), () => {
        const session = slot.slot.open(flags);
        try {
          return new TokenSession(module, slot, session);
        } catch (error) {
          session.close();
          throw error;
        }
      });
    } catch (error) {
      module.release();
      throw toKeymintError(error, { action: 'opening a session', token: describeTokenBriefly(slot.token) });
    }
  }

  /** Runs `operation` after every operation queued before it. */
  run<T>(operation: () => T | Promise<T>): Promise<T> {
    if (this.#closing !== undefined) return Promise.reject(new KeymintError(ErrorCode.USAGE, `the session with token ${this.name} is closed`));
    const next = this.#queue.then(operation);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Logs the user in once, if the token needs it. One try only: a wrong PIN fails at once, so
   * that keymint never locks a token by retrying.
   * @throws KeymintError ERR_PIN_INCORRECT, ERR_PIN_LOCKED, ERR_PASSWORD_REQUIRED
   */
  async login(uri: Pkcs11Uri, sources: PinSources): Promise<void> {
    if (this.#loggedIn) return;
    let token: TokenDescription;
    try {
      token = await retryTransient(this.quirks, () => describeToken(this.slot.slot));
    } catch (error) {
      throw toKeymintError(error, { action: 'reading the token', token: this.name });
    }
    if (!token.loginRequired) {
      this.#loggedIn = true;
      return;
    }
    if (token.pinLocked) {
      throw new KeymintError(ErrorCode.PIN_LOCKED, `the PIN of token ${this.name} is locked after too many wrong tries`, {
        hint: "the token's security officer must unlock it",
      });
    }
    const noSource =
      uri.pinValue === undefined && uri.pinSource === undefined && sources.pin === undefined && ((sources.env ?? process.env)[PIN_ENV] ?? '') === '';
    try {
      if (token.protectedAuthenticationPath && noSource) {
        // A PIN pad or biometric reader: the token asks for itself.
        await retryTransient(this.quirks, () => this.session.lib.C_Login(this.session.handle, CKU_USER));
      } else {
        const pin = await resolvePin(uri, this.name, sources);
        // Only CKR_GENERAL_ERROR of a module known to report it in passing is tried again; a wrong PIN never is.
        await retryTransient(this.quirks, () => this.session.lib.C_Login(this.session.handle, CKU_USER, pin));
      }
    } catch (error) {
      const code = pkcs11CodeOf(error);
      if (code === CKR.USER_ALREADY_LOGGED_IN) {
        // Another backend in this process logged in to the same token: the login is shared.
        this.#loggedIn = true;
        return;
      }
      if (code === CKR.PIN_INCORRECT || code === CKR.PIN_INVALID || code === CKR.PIN_LEN_RANGE) throw this.#wrongPin(error);
      throw toKeymintError(error, { action: 'logging in', token: this.name });
    }
    this.#loggedIn = true;
  }

  #wrongPin(cause: unknown): KeymintError {
    let after: TokenDescription | undefined;
    try {
      after = describeToken(this.slot.slot);
    } catch {
      after = undefined;
    }
    if (after?.pinLocked) {
      return new KeymintError(ErrorCode.PIN_LOCKED, `token ${this.name} refused the PIN and has now locked it`, { cause, hint: "the token's security officer must unlock it" });
    }
    // CKF_USER_PIN_COUNT_LOW only says a wrong PIN was entered since the last good one; FINAL_TRY is the warning.
    const warning = after?.pinFinalTry ? 'one more wrong PIN locks the token' : 'keymint does not retry, so that the token is not locked';
    return new KeymintError(ErrorCode.PIN_INCORRECT, `token ${this.name} refused the PIN`, { cause, hint: `check the PIN; ${warning}` });
  }

  /** Closes the session once the queued operations are done, and gives the module back. Safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= this.#queue.then(() => {
      try {
        // Closing the application's last session with the token also logs it out (PKCS#11 §5.6).
        this.session.close();
      } catch {
        // The token may be gone; there is nothing left to release on it.
      } finally {
        this.module.release();
      }
    });
    return this.#closing;
  }
}
