import { ErrorCode, KeymintError } from '@keymint/core';
import type { KeychainStore } from './options.js';

/** Where an operation ran, for messages: the service, the store and why it was chosen. */
export interface ErrorContext {
  service: string;
  account?: string;
  store: KeychainStore | undefined;
  /** Why the Secret Service was not used when no store was asked for (its connection error). */
  fallback?: string | undefined;
}

const START_SECRET_SERVICE =
  "start a session bus with an unlocked keyring, e.g. dbus-run-session -- sh -c 'echo -n PASSWORD | gnome-keyring-daemon --unlock --components=secrets; keymint ...'";
const START_KEYUTILS = 'run keymint under a session keyring: keyctl session - keymint ...';

/** The library's message on one line, without its generic prefixes. */
export function detailOf(cause: unknown): string {
  const text = cause instanceof Error ? cause.message : String(cause);
  return text
    .replace(/\s*\n\s*/g, ' ')
    .replace(/^(Platform failure|Couldn't access platform storage|zbus error):\s*/i, '')
    .replace(/^DBus error:\s*/i, '')
    .trim();
}

/** Where the entry is, for messages: `service "keymint", account "abc" (Secret Service)`. */
export function describeEntry(context: ErrorContext): string {
  const where =
    context.account === undefined
      ? `service "${context.service}"`
      : `service "${context.service}", account "${context.account}"`;
  return context.store === undefined ? where : `${where} in the ${storeName(context.store)}`;
}

export function storeName(store: KeychainStore): string {
  return store === 'secret-service' ? 'Secret Service' : 'kernel keyring';
}

/** True when the error says the D-Bus session bus cannot be reached at all. */
function isNoBus(cause: unknown): boolean {
  return /autolaunch|DBUS_SESSION_BUS_ADDRESS|Failed to connect|Connection refused|No such file or directory|Unable to autolaunch|NoServer|Disconnected|Not connected|session bus/i.test(
    detailOf(cause),
  );
}

const NO_SECRET_SERVICE = /ServiceUnknown|not provided by any \.service|org\.freedesktop\.secrets/i;

/** Why the Secret Service cannot be reached: no session bus, or nothing on it that provides it. */
function unreachable(detail: string): string {
  if (NO_SECRET_SERVICE.test(detail))
    return `no Secret Service (gnome-keyring, KWallet, KeePassXC) runs on the D-Bus session bus (${detail})`;
  const address = process.env.DBUS_SESSION_BUS_ADDRESS;
  const why =
    address === undefined || address === '' ? 'DBUS_SESSION_BUS_ADDRESS is not set' : `nothing answers at ${address}`;
  return `no D-Bus session bus for the Secret Service (${why}: ${detail})`;
}

function lockedHint(): string {
  if (process.platform === 'darwin') return 'unlock it first: security unlock-keychain';
  return 'unlock it first (log in to the desktop session, or start the keyring unlocked: echo -n PASSWORD | gnome-keyring-daemon --unlock --components=secrets)';
}

/**
 * Turns an error of @napi-rs/keyring into a KeymintError with a one-line message and a hint:
 * no keychain reachable, keychain locked, secret too long, ambiguous entry, or a generic failure.
 */
export function keychainError(cause: unknown, context: ErrorContext, doing: string): KeymintError {
  if (cause instanceof KeymintError) return cause;
  const detail = detailOf(cause);
  const entry = describeEntry(context);
  const secretService =
    context.store === 'secret-service' || (context.store === undefined && process.platform === 'linux');

  if (/prompt was dismissed|is locked|collection.*locked|interaction is not allowed|NoStorageAccess/i.test(detail)) {
    return new KeymintError(
      ErrorCode.BACKEND_LOCKED,
      `the keychain is locked and cannot be unlocked without a prompt (${doing} ${entry}: ${detail})`,
      {
        cause,
        hint: lockedHint(),
      },
    );
  }
  if (
    context.store === 'keyutils' &&
    /AccessDenied|Permission denied|EACCES|Key has been revoked|key.*expired/i.test(detail)
  ) {
    const message =
      context.fallback === undefined
        ? `no keychain available: the kernel keyring (keyutils) refused access (${detail}): this process has no usable session keyring`
        : `no keychain available: ${unreachable(context.fallback)}, and the kernel keyring (keyutils) refused access (${detail})`;
    return new KeymintError(ErrorCode.BACKEND_UNAVAILABLE, message, {
      cause,
      hint: context.fallback === undefined ? START_KEYUTILS : `${START_SECRET_SERVICE}; or ${START_KEYUTILS}`,
    });
  }
  if (secretService && (NO_SECRET_SERVICE.test(detail) || isNoBus(cause))) {
    return new KeymintError(ErrorCode.BACKEND_UNAVAILABLE, `no keychain available: ${unreachable(detail)}`, {
      cause,
      hint: `${START_SECRET_SERVICE}; or use --keychain-store keyutils`,
    });
  }
  if (/too long|longer than|TooLong/i.test(detail)) {
    return new KeymintError(
      ErrorCode.ALG_NOT_SUPPORTED,
      `the key is too large for this keychain (${doing} ${entry}: ${detail})`,
      {
        cause,
        hint: 'Windows Credential Manager holds at most 2560 bytes: use an EC or OKP key there',
      },
    );
  }
  if (/ambiguous|more than one|matched by \d+ credentials/i.test(detail)) {
    return new KeymintError(ErrorCode.INPUT_INVALID, `more than one keychain entry matches ${entry}`, {
      cause,
      hint: `remove the extra ones with the keychain's own tool (secret-tool clear service ${context.service} username ${context.account ?? 'ACCOUNT'})`,
    });
  }
  if (/encod|utf-?8/i.test(detail)) {
    return new KeymintError(
      ErrorCode.INPUT_INVALID,
      `the keychain entry ${entry} holds a secret that is not text: it is not a JWK`,
      { cause },
    );
  }
  return new KeymintError(ErrorCode.BACKEND_UNAVAILABLE, `the keychain failed while ${doing} ${entry}: ${detail}`, {
    cause,
  });
}
