import { ErrorCode, KeymintError, type KeyTypeSupport } from '@keymint/core';
import { describeToken, describeTokenBriefly, type SlotDescription, type TokenDescription } from './describe-slots.js';
import { pkcs11CodeOf, toKeymintError } from './map-pkcs11-error.js';
import { quirksOf, type ModuleQuirks } from './module-quirks.js';
import { CKR, CKU_USER } from './pkcs11-constants.js';
import type { ModuleHandle } from './pkcs11-module.js';
import type { Pkcs11Uri } from './pkcs11-uri.js';
import { PIN_ENV, resolvePin, type PinSources } from './resolve-pin.js';
import { retryTransient } from './retry-transient.js';
import { readMechanisms, tokenKeyTypes, type MechanismTable } from './token-key-types.js';
import { TokenSession, type TokenInfo } from './token-session.js';

/**
 * The most sessions a pool opens with one token: the binding runs signatures and key generation
 * on libuv's thread pool, which has four threads unless UV_THREADPOOL_SIZE says otherwise, so
 * a fifth session would only wait for a thread.
 */
export const MAX_SESSIONS = 4;

/** Whether an operation may run beside others of its kind (see TokenPool.run). */
export type Access = 'shared' | 'exclusive';

/**
 * The sessions a backend has with one token. Concurrent operations run on separate sessions, so
 * that signatures on a token that signs in several threads at once use them all; one operation at
 * a time keeps to one session. Sessions are opened when all open ones are busy, up to
 * MAX_SESSIONS (one when the module was started without OS locking, see acquireModule). PKCS#11
 * logs in per application and token (PKCS#11 3.0 §5.6): one C_Login serves every session, also
 * those opened later, and closing the last session logs out.
 */
export class TokenPool implements TokenInfo {
  readonly module: ModuleHandle;
  readonly slot: SlotDescription & { token: TokenDescription };
  readonly mechanisms: MechanismTable;
  readonly quirks: ModuleQuirks;
  readonly keyTypes: readonly KeyTypeSupport[];
  readonly name: string;
  #sessions: TokenSession[] = [];
  #opening: Promise<TokenSession> | undefined;
  #max: number;
  #loggedIn = false;
  #login: Promise<void> | undefined;
  #exclusive: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | undefined;

  private constructor(module: ModuleHandle, slot: SlotDescription & { token: TokenDescription }) {
    this.module = module;
    this.slot = slot;
    this.name = describeTokenBriefly(slot.token);
    this.quirks = quirksOf(module.info);
    this.mechanisms = readMechanisms(slot.slot);
    this.keyTypes = tokenKeyTypes(this.mechanisms, this.quirks);
    this.#max = module.concurrent ? MAX_SESSIONS : 1;
  }

  /**
   * Reads the token's mechanisms and opens its first session. Takes over `module`: closing the
   * pool releases it, and so does a failure here.
   * @throws KeymintError mapped from the module's error
   */
  static async open(module: ModuleHandle, slot: SlotDescription & { token: TokenDescription }): Promise<TokenPool> {
    try {
      const pool = await retryTransient(quirksOf(module.info), () => new TokenPool(module, slot));
      pool.#sessions.push(await TokenSession.open(pool));
      return pool;
    } catch (error) {
      module.release();
      throw toKeymintError(error, { action: 'opening a session', token: describeTokenBriefly(slot.token) });
    }
  }

  /** The sessions open now. */
  get size(): number {
    return this.#sessions.length;
  }

  /**
   * Runs `operation` on an idle session, on a new one while fewer than the most are open, or else
   * after the operations queued on the least busy one. Exclusive operations (those that check the
   * token and then change it: a new key must not take a label another one just took) run one at
   * a time, beside shared ones.
   */
  run<T>(operation: (session: TokenSession) => Promise<T>, access: Access = 'shared'): Promise<T> {
    if (this.#closing !== undefined) {
      return Promise.reject(new KeymintError(ErrorCode.USAGE, `the session with token ${this.name} is closed`));
    }
    if (access === 'shared') return this.#dispatch(operation);
    const next = this.#exclusive.then(() => this.#dispatch(operation));
    this.#exclusive = next.catch(() => undefined);
    return next;
  }

  #dispatch<T>(operation: (session: TokenSession) => Promise<T>): Promise<T> {
    // Chosen and counted in the same turn, so that concurrent callers never pick the same idle session.
    const idle = this.#sessions.find((s) => s.pending === 0);
    if (idle !== undefined) return idle.run(() => operation(idle));
    if (this.#opening === undefined && this.#sessions.length < this.#max) {
      const opening = TokenSession.open(this);
      this.#opening = opening;
      return opening.then(
        (session) => {
          // Kept also when the pool is closing: close() waits for this session and closes it with the others.
          this.#opening = undefined;
          this.#sessions.push(session);
          return session.run(() => operation(session));
        },
        () => {
          // A token that allows no more sessions (CKR_SESSION_COUNT) is served by those it has.
          this.#opening = undefined;
          this.#max = this.#sessions.length;
          return this.#dispatch(operation);
        },
      );
    }
    const least = this.#sessions.reduce((a, b) => (b.pending < a.pending ? b : a));
    return least.run(() => operation(least));
  }

  /**
   * Logs the user in once, if the token needs it, before operations are given sessions: callers
   * that come while a login is under way share it, and its failure, so that operations asked for
   * at once make one C_Login between them. One try only: a wrong PIN fails at once (and an
   * operation asked for later tries again), so that keymint never locks a token by retrying.
   * @throws KeymintError ERR_PIN_INCORRECT, ERR_PIN_LOCKED, ERR_PASSWORD_REQUIRED
   */
  login(uri: Pkcs11Uri, sources: PinSources): Promise<void> {
    if (this.#loggedIn) return Promise.resolve();
    this.#login ??= this.run((session) => this.#logIn(session, uri, sources)).then(
      () => {
        this.#loggedIn = true;
      },
      (error: unknown) => {
        this.#login = undefined;
        throw error;
      },
    );
    return this.#login;
  }

  async #logIn(session: TokenSession, uri: Pkcs11Uri, sources: PinSources): Promise<void> {
    let token: TokenDescription;
    try {
      token = await retryTransient(this.quirks, () => describeToken(this.slot.slot));
    } catch (error) {
      throw toKeymintError(error, { action: 'reading the token', token: this.name });
    }
    if (!token.loginRequired) return;
    if (token.pinLocked) {
      throw new KeymintError(
        ErrorCode.PIN_LOCKED,
        `the PIN of token ${this.name} is locked after too many wrong tries`,
        {
          hint: "the token's security officer must unlock it",
        },
      );
    }
    const noSource =
      uri.pinValue === undefined &&
      uri.pinSource === undefined &&
      sources.pin === undefined &&
      ((sources.env ?? process.env)[PIN_ENV] ?? '') === '';
    const { lib, handle } = session.session;
    try {
      if (token.protectedAuthenticationPath && noSource) {
        // A PIN pad or biometric reader: the token asks for itself.
        await retryTransient(this.quirks, () => lib.C_Login(handle, CKU_USER));
      } else {
        const pin = await resolvePin(uri, this.name, sources);
        // Only CKR_GENERAL_ERROR of a module known to report it in passing is tried again; a wrong PIN never is.
        await retryTransient(this.quirks, () => lib.C_Login(handle, CKU_USER, pin));
      }
    } catch (error) {
      const code = pkcs11CodeOf(error);
      // Another backend in this process logged in to the same token: the login is shared.
      if (code === CKR.USER_ALREADY_LOGGED_IN) return;
      if (code === CKR.PIN_INCORRECT || code === CKR.PIN_INVALID || code === CKR.PIN_LEN_RANGE)
        throw this.#wrongPin(error);
      throw toKeymintError(error, { action: 'logging in', token: this.name });
    }
  }

  #wrongPin(cause: unknown): KeymintError {
    let after: TokenDescription | undefined;
    try {
      after = describeToken(this.slot.slot);
    } catch {
      after = undefined;
    }
    if (after?.pinLocked) {
      return new KeymintError(ErrorCode.PIN_LOCKED, `token ${this.name} refused the PIN and has now locked it`, {
        cause,
        hint: "the token's security officer must unlock it",
      });
    }
    // CKF_USER_PIN_COUNT_LOW only says a wrong PIN was entered since the last good one; FINAL_TRY is the warning.
    const warning = after?.pinFinalTry
      ? 'one more wrong PIN locks the token'
      : 'keymint does not retry, so that the token is not locked';
    return new KeymintError(ErrorCode.PIN_INCORRECT, `token ${this.name} refused the PIN`, {
      cause,
      hint: `check the PIN; ${warning}`,
    });
  }

  /**
   * Closes every session once its queued operations are done (closing the last one also logs out,
   * PKCS#11 3.0 §5.6), then gives the module back. Safe to call twice.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const opening = this.#opening;
      if (opening !== undefined) await opening.then(undefined, () => undefined);
      await Promise.all(this.#sessions.map((s) => s.close()));
      this.module.release();
    })();
    return this.#closing;
  }
}
