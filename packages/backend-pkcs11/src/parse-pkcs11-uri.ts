import { ErrorCode, KeymintError } from '@keymint/core';
import { moduleNameProblem } from './module-places.js';
import { PATH_VALUE_CHARS, QUERY_VALUE_CHARS, percentDecode, percentDecodeText } from './percent-encoding.js';
import {
  PATH_ATTRIBUTES,
  PKCS11_OBJECT_TYPES,
  QUERY_ATTRIBUTES,
  type Pkcs11ObjectType,
  type Pkcs11Uri,
} from './pkcs11-uri.js';

const SCHEME = /^pkcs11:/i;
const ATTRIBUTE_NAME = /^[A-Za-z0-9_-]+$/;

function invalid(message: string): KeymintError {
  return new KeymintError(ErrorCode.USAGE, `invalid PKCS#11 URI: ${message}`, {
    hint: "see RFC 7512, e.g. 'pkcs11:token=my-token;object=my-key?module-path=/usr/lib/softhsm/libsofthsm2.so'",
  });
}

function splitAttribute(part: string, where: 'path' | 'query'): [string, string] {
  const eq = part.indexOf('=');
  // A query part may be a mistyped PIN: only path parts are repeated in the message.
  if (eq <= 0)
    throw invalid(
      where === 'path'
        ? `"${part}" in the path is not an attribute=value pair`
        : 'a part of the query is not an attribute=value pair',
    );
  const name = part.slice(0, eq);
  if (!ATTRIBUTE_NAME.test(name)) throw invalid(`"${name}" is not an attribute name`);
  return [name, part.slice(eq + 1)];
}

function checkDigits(name: string, value: string, pattern: RegExp, form: string): void {
  if (!pattern.test(value)) throw invalid(`${name}=${value} is not ${form}`);
}

/**
 * Parses an RFC 7512 PKCS#11 URI: `pkcs11:` path attributes joined by `;`, then `?` and query
 * attributes joined by `&`. Values are percent-decoded; `id` to bytes, the rest to UTF-8 text.
 * Each attribute may appear once; `type`, `slot-id`, `library-version` and `module-name` (a bare
 * name: no `/`, `\`, `..`, not empty) are checked.
 * The error never repeats a value of `pin-value`.
 * @throws KeymintError ERR_USAGE naming what is malformed
 * @example parsePkcs11Uri('pkcs11:token=t;id=%01%02?module-path=/usr/lib/softhsm/libsofthsm2.so')
 *   // { token: 't', id: Uint8Array [1, 2], modulePath: '/usr/lib/softhsm/libsofthsm2.so' }
 * @see https://www.rfc-editor.org/rfc/rfc7512#section-2.3
 */
export function parsePkcs11Uri(text: string): Pkcs11Uri {
  if (!SCHEME.test(text)) throw invalid(`it must start with "pkcs11:"`);
  const rest = text.slice('pkcs11:'.length);
  const q = rest.indexOf('?');
  const path = q === -1 ? rest : rest.slice(0, q);
  const query = q === -1 ? '' : rest.slice(q + 1);
  const uri: Record<string, unknown> = {};
  const seen = new Set<string>();
  const vendorPath: [string, string][] = [];
  const vendorQuery: [string, string][] = [];

  if (path.length > 0) {
    for (const part of path.split(';')) {
      const [name, raw] = splitAttribute(part, 'path');
      if (seen.has(name)) throw invalid(`"${name}" appears more than once`);
      seen.add(name);
      const known = PATH_ATTRIBUTES.find(([attribute]) => attribute === name);
      if (known === undefined) {
        vendorPath.push([name, percentDecodeText(raw, PATH_VALUE_CHARS, name)]);
        continue;
      }
      const field = known[1];
      if (field === 'id') {
        uri.id = percentDecode(raw, PATH_VALUE_CHARS, name);
        continue;
      }
      const value = percentDecodeText(raw, PATH_VALUE_CHARS, name);
      if (field === 'type' && !(PKCS11_OBJECT_TYPES as readonly string[]).includes(value)) {
        throw invalid(`type=${value} is not an object type: use ${PKCS11_OBJECT_TYPES.join(', ')}`);
      }
      if (field === 'slotId') checkDigits(name, value, /^[0-9]+$/, 'a decimal number');
      if (field === 'libraryVersion') checkDigits(name, value, /^[0-9]+(\.[0-9]+)?$/, 'a version such as 2 or 2.40');
      uri[field] = field === 'type' ? (value as Pkcs11ObjectType) : value;
    }
  }

  if (query.length > 0) {
    for (const part of query.split('&')) {
      const [name, raw] = splitAttribute(part, 'query');
      if (seen.has(name)) throw invalid(`"${name}" appears more than once`);
      seen.add(name);
      const known = QUERY_ATTRIBUTES.find(([attribute]) => attribute === name);
      const value = percentDecodeText(raw, QUERY_VALUE_CHARS, name);
      if (known === undefined) vendorQuery.push([name, value]);
      else uri[known[1]] = value;
    }
  }
  if (uri.pinSource !== undefined && uri.pinValue !== undefined)
    throw invalid('give either pin-source or pin-value, not both');
  if (uri.moduleName !== undefined && uri.modulePath !== undefined)
    throw invalid('give either module-name or module-path, not both');
  // Refused here, before any lookup: a name from a key reference must not reach outside the module directories.
  const nameProblem = typeof uri.moduleName === 'string' ? moduleNameProblem(uri.moduleName) : undefined;
  if (nameProblem !== undefined) {
    throw invalid(`module-name=${JSON.stringify(uri.moduleName)} is not a module name: ${nameProblem}`);
  }
  if (vendorPath.length > 0) uri.vendorPath = vendorPath;
  if (vendorQuery.length > 0) uri.vendorQuery = vendorQuery;
  return uri as Pkcs11Uri;
}
