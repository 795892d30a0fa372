import { PATH_VALUE_CHARS, QUERY_VALUE_CHARS, percentEncodeBytes, percentEncodeText } from './percent-encoding.js';
import { PATH_ATTRIBUTES, QUERY_ATTRIBUTES, type Pkcs11Uri } from './pkcs11-uri.js';

export interface FormatOptions {
  /** Leave out pin-value (default true): a URI keymint prints or stores never carries a PIN. */
  redactPin?: boolean;
}

/**
 * Writes a PKCS#11 URI: path attributes in a fixed order (token first, id last), then the query.
 * `id` is percent-encoded byte by byte; other values only where RFC 7512 requires it.
 * pin-value is left out unless `redactPin: false`.
 * @example formatPkcs11Uri({ token: 'My token', id: Uint8Array.of(1, 2) }) // 'pkcs11:token=My%20token;id=%01%02'
 * @see https://www.rfc-editor.org/rfc/rfc7512#section-2.3
 */
export function formatPkcs11Uri(uri: Pkcs11Uri, options: FormatOptions = {}): string {
  const path: string[] = [];
  for (const [name, field] of PATH_ATTRIBUTES) {
    const value = uri[field];
    if (value === undefined) continue;
    path.push(
      `${name}=${value instanceof Uint8Array ? percentEncodeBytes(value) : percentEncodeText(String(value), PATH_VALUE_CHARS)}`,
    );
  }
  for (const [name, value] of uri.vendorPath ?? []) path.push(`${name}=${percentEncodeText(value, PATH_VALUE_CHARS)}`);
  const query: string[] = [];
  for (const [name, field] of QUERY_ATTRIBUTES) {
    const value = uri[field];
    if (value === undefined) continue;
    if (field === 'pinValue' && (options.redactPin ?? true)) continue;
    query.push(`${name}=${percentEncodeText(String(value), QUERY_VALUE_CHARS)}`);
  }
  for (const [name, value] of uri.vendorQuery ?? [])
    query.push(`${name}=${percentEncodeText(value, QUERY_VALUE_CHARS)}`);
  return `pkcs11:${path.join(';')}${query.length > 0 ? `?${query.join('&')}` : ''}`;
}
