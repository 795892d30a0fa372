import { describe, expect, it } from 'vitest';
import { isKeymintError } from '@keymint/core';
import { formatPkcs11Uri } from '../src/format-pkcs11-uri.js';
import { parsePkcs11Uri } from '../src/parse-pkcs11-uri.js';
import type { Pkcs11Uri } from '../src/pkcs11-uri.js';

const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));

function parseError(text: string): { code: string; message: string } {
  try {
    parsePkcs11Uri(text);
  } catch (error) {
    if (isKeymintError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error(`${text} parsed`);
}

// The examples of RFC 7512 §3, each with what it must parse to.
const RFC7512_3: Array<[string, Pkcs11Uri]> = [
  ['pkcs11:', {}],
  ['pkcs11:object=my-pubkey;type=public', { object: 'my-pubkey', type: 'public' }],
  [
    'pkcs11:object=my-key;type=private?pin-source=file:/etc/token',
    { object: 'my-key', type: 'private', pinSource: 'file:/etc/token' },
  ],
  [
    'pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BE%2D%D2%DF%23%B8%E7?pin-source=file:/etc/token_pin',
    {
      token: 'The Software PKCS#11 Softtoken',
      manufacturer: 'Snake Oil, Inc.',
      model: '1.0',
      object: 'my-certificate',
      type: 'cert',
      id: bytes('69953e5cf4be2dd2df23b8e7'),
      pinSource: 'file:/etc/token_pin',
    },
  ],
  [
    'pkcs11:object=my-sign-key;type=private?module-name=mypkcs11',
    { object: 'my-sign-key', type: 'private', moduleName: 'mypkcs11' },
  ],
  [
    'pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1',
    { object: 'my-sign-key', type: 'private', modulePath: '/mnt/libmypkcs11.so.1' },
  ],
  [
    'pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin',
    { token: 'Software PKCS#11 softtoken', manufacturer: 'Snake Oil, Inc.', pinValue: 'the-pin' },
  ],
  ['pkcs11:slot-description=Sun%20Metaslot', { slotDescription: 'Sun Metaslot' }],
  [
    'pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;library-version=1.23',
    { libraryManufacturer: 'Snake Oil, Inc.', libraryDescription: 'Soft Token Library', libraryVersion: '1.23' },
  ],
  [
    'pkcs11:token=My%20token%25%20created%20by%20Joe;library-version=3;id=%01%02%03%Ba%dd%Ca%fe%04%05%06',
    { token: 'My token% created by Joe', libraryVersion: '3', id: bytes('010203baddcafe040506') },
  ],
  [
    'pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert',
    { token: 'A name with a substring %;', object: 'my-certificate', type: 'cert' },
  ],
  [
    'pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-certificate;type=cert',
    { token: 'Name with a small A with acute: á', object: 'my-certificate', type: 'cert' },
  ],
  [
    'pkcs11:token=my-token;object=my-certificate;type=cert;vendor-aaa=value-a?pin-source=file:/etc/token_pin&vendor-bbb=value-b',
    {
      token: 'my-token',
      object: 'my-certificate',
      type: 'cert',
      pinSource: 'file:/etc/token_pin',
      vendorPath: [['vendor-aaa', 'value-a']],
      vendorQuery: [['vendor-bbb', 'value-b']],
    },
  ],
];

describe('RFC 7512 PKCS#11 URIs', () => {
  for (const [index, [text, expected]] of RFC7512_3.entries()) {
    it(`rfc7512-3 example ${index + 1}: ${text}`, () => {
      const parsed = parsePkcs11Uri(text);
      expect(parsed).toEqual(expected);
      // Formatting and parsing again gives the same attributes (the PIN aside, which is never written).
      const again = parsePkcs11Uri(formatPkcs11Uri(parsed, { redactPin: false }));
      expect(again).toEqual(expected);
    });
  }

  it('rfc7512-2.3: the scheme name is case-insensitive, attribute names are not', () => {
    expect(parsePkcs11Uri('PKCS11:token=t').token).toBe('t');
    expect(parsePkcs11Uri('pkcs11:Token=t').vendorPath).toEqual([['Token', 't']]);
  });

  it('rfc7512-2.3: percent-encodes what a value may not hold, and id byte by byte', () => {
    const text = formatPkcs11Uri({
      token: 'My token; 100%',
      object: 'a/b?c',
      id: bytes('00ff41'),
      modulePath: '/usr/lib/a b.so',
      pinSource: 'file:/run/pin|x',
    });
    expect(text).toBe(
      'pkcs11:token=My%20token%3B%20100%25;object=a%2Fb%3Fc;id=%00%FF%41?module-path=/usr/lib/a%20b.so&pin-source=file:/run/pin|x',
    );
    expect(parsePkcs11Uri(text)).toEqual({
      token: 'My token; 100%',
      object: 'a/b?c',
      id: bytes('00ff41'),
      modulePath: '/usr/lib/a b.so',
      pinSource: 'file:/run/pin|x',
    });
  });

  it('encodes non-ASCII text as UTF-8', () => {
    expect(formatPkcs11Uri({ token: 'á€' })).toBe('pkcs11:token=%C3%A1%E2%82%AC');
  });

  it('never writes pin-value unless asked to', () => {
    const uri = parsePkcs11Uri('pkcs11:token=t?module-path=/m.so&pin-value=1234');
    expect(formatPkcs11Uri(uri)).toBe('pkcs11:token=t?module-path=/m.so');
    expect(formatPkcs11Uri(uri, { redactPin: false })).toBe('pkcs11:token=t?module-path=/m.so&pin-value=1234');
  });

  it('writes the path in a fixed order, token first and id last', () => {
    expect(formatPkcs11Uri({ id: bytes('01'), object: 'k', serial: 's', token: 't', type: 'private' })).toBe(
      'pkcs11:token=t;serial=s;object=k;type=private;id=%01',
    );
  });

  it.each([
    ['token=t', 'must start with "pkcs11:"'],
    ['pkcs11:token=t;token=u', '"token" appears more than once'],
    ['pkcs11:token=t?pin-source=a&pin-source=b', '"pin-source" appears more than once'],
    ['pkcs11:token=a b', '"token" holds " ", which must be percent-encoded'],
    ['pkcs11:object=a/b', '"object" holds "/", which must be percent-encoded'],
    ['pkcs11:id=%0', '"id" has a "%" that is not followed by two hex digits'],
    ['pkcs11:id=%zz', '"id" has a "%" that is not followed by two hex digits'],
    ['pkcs11:type=key', 'type=key is not an object type'],
    ['pkcs11:slot-id=0x1', 'slot-id=0x1 is not a decimal number'],
    ['pkcs11:library-version=1.2.3', 'library-version=1.2.3 is not a version'],
    ['pkcs11:token', '"token" in the path is not an attribute=value pair'],
    ['pkcs11:token=t;;object=k', '"" in the path is not an attribute=value pair'],
    ['pkcs11:token=%C3', '"token" is not UTF-8 once decoded'],
    ['pkcs11:?pin-source=file:/p&pin-value=1', 'either pin-source or pin-value'],
    ['pkcs11:?module-name=a&module-path=/b', 'either module-name or module-path'],
  ])('refuses %s', (text, message) => {
    const error = parseError(text);
    expect(error.code).toBe('ERR_USAGE');
    expect(error.message).toContain(message);
    expect(error.message).not.toMatch(/\n/);
  });

  it('never repeats a PIN in an error', () => {
    expect(parseError('pkcs11:token=t?pin-value=se cret').message).not.toContain('cret');
    expect(parseError('pkcs11:token=t?pin-value=se cret').message).toBe(
      'invalid PKCS#11 URI: "pin-value" holds a character, which must be percent-encoded',
    );
    expect(parseError('pkcs11:token=t?secret-pin').message).toBe(
      'invalid PKCS#11 URI: a part of the query is not an attribute=value pair',
    );
  });
});
