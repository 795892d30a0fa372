import { ErrorCode, KeymintError } from '@keymint/core';

/**
 * RFC 7512 percent-encoding. Values are UTF-8 (RFC 3986 §2.5); `id` is raw bytes and is always
 * encoded in full, one %XX per byte.
 * @see https://www.rfc-editor.org/rfc/rfc7512#section-2.3
 */

const UNRESERVED = 'A-Za-z0-9\\-._~';
/** pk11-res-avail: reserved characters a value may hold unencoded anywhere. */
const RES_AVAIL = ":\\[\\]@!$'()*+,=";
/** Characters a path value may hold unencoded (pk11-pchar plus "&"). */
export const PATH_VALUE_CHARS = new RegExp(`^[${UNRESERVED}${RES_AVAIL}&]$`);
/** Characters a query value may hold unencoded (pk11-qchar: plus "/", "?" and "|"). */
export const QUERY_VALUE_CHARS = new RegExp(`^[${UNRESERVED}${RES_AVAIL}/?|]$`);

function invalid(message: string): KeymintError {
  return new KeymintError(ErrorCode.USAGE, `invalid PKCS#11 URI: ${message}`);
}

/**
 * Decodes a percent-encoded value to bytes, refusing characters the part does not allow raw.
 * @throws KeymintError ERR_USAGE for a bad escape or a character that must be encoded
 */
export function percentDecode(text: string, allowed: RegExp, attribute: string): Uint8Array {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === '%') {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex))
        throw invalid(`"${attribute}" has a "%" that is not followed by two hex digits`);
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
      continue;
    }
    if (!allowed.test(ch)) {
      // Never echo a character of a PIN.
      const shown = attribute === 'pin-value' ? 'a character' : `"${ch}"`;
      throw invalid(`"${attribute}" holds ${shown}, which must be percent-encoded`);
    }
    bytes.push(ch.charCodeAt(0));
  }
  return Uint8Array.from(bytes);
}

/**
 * Decodes a percent-encoded value as UTF-8 text.
 * @throws KeymintError ERR_USAGE also when the bytes are not UTF-8
 */
export function percentDecodeText(text: string, allowed: RegExp, attribute: string): string {
  const bytes = percentDecode(text, allowed, attribute);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalid(`"${attribute}" is not UTF-8 once decoded`);
  }
}

/** Encodes text, leaving the characters the part allows raw. */
export function percentEncodeText(text: string, allowed: RegExp): string {
  let out = '';
  for (const byte of new TextEncoder().encode(text)) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && allowed.test(ch) ? ch : percentByte(byte);
  }
  return out;
}

/** Encodes every byte as %XX (upper case hex, RFC 3986 §2.1). */
export function percentEncodeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += percentByte(byte);
  return out;
}

function percentByte(byte: number): string {
  return `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
}
