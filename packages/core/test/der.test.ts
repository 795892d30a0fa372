import { describe, expect, it } from 'vitest';
import { thrown, newKeyPair } from '@keymint/test-kit';
import {
  DerTag,
  decodeBitString,
  decodeInteger,
  decodeOid,
  derChildren,
  parseDer,
  readDer,
  unwrapOctetString,
} from '../src/der.js';
import { ErrorCode, KeymintError } from '../src/errors.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s/g, ''), 'hex');

function expectInvalid(run: () => unknown): KeymintError {
  return thrown<KeymintError>(run, ErrorCode.INPUT_INVALID, /^malformed DER: [^\n]+$/);
}

/** The uncompressed point X||Y of a fresh EC key, as PKCS#11 CKA_EC_POINT holds it after 04. */
function ecPoint(namedCurve: string): Buffer {
  const jwk = newKeyPair('ec', { namedCurve }).publicJwk;
  return Buffer.concat([Buffer.of(0x04), Buffer.from(jwk.x ?? '', 'base64url'), Buffer.from(jwk.y ?? '', 'base64url')]);
}

describe('readDer', () => {
  it('reads a short-form length', () => {
    const element = readDer(hex('02 01 05'));
    expect(element).toMatchObject({ tag: DerTag.INTEGER, constructed: false, start: 0, contentStart: 2, end: 3 });
    expect([...element.content]).toEqual([5]);
  });

  it('reads one- and two-octet long-form lengths', () => {
    const body200 = Buffer.alloc(200, 0xab);
    const e1 = readDer(Buffer.concat([hex('04 81 c8'), body200]));
    expect(e1).toMatchObject({ tag: DerTag.OCTET_STRING, contentStart: 3, end: 203 });
    expect(Buffer.from(e1.content)).toEqual(body200);

    const body300 = Buffer.alloc(300, 0xcd);
    const e2 = readDer(Buffer.concat([hex('04 82 01 2c'), body300]));
    expect(e2).toMatchObject({ contentStart: 4, end: 304 });
    expect(e2.content.length).toBe(300);
  });

  it('reads the element at an offset and stops at the limit', () => {
    const bytes = hex('02 01 01 02 01 02');
    expect(readDer(bytes, 3)).toMatchObject({ tag: DerTag.INTEGER, start: 3, end: 6 });
    expectInvalid(() => readDer(bytes, 3, 5));
  });

  it('gives views, not copies', () => {
    const bytes = hex('04 02 01 02');
    readDer(bytes).content[0] = 9;
    expect(bytes[2]).toBe(9);
  });

  it.each([
    ['empty input', ''],
    ['a tag and no length', '04'],
    ['a long-form length cut short', '04 82 01'],
    ['content shorter than the length', '04 03 01 02'],
    ['an indefinite length (BER)', '30 80 02 01 01 00 00'],
    ['a five-octet length', '04 85 00 00 00 00 01 00'],
    ['a 4-octet length far past the end', '04 84 ff ff ff ff 00'],
    ['a high-tag-number identifier', '1f 81 00 00'],
  ])('refuses %s', (_name, bytes) => {
    expectInvalid(() => readDer(hex(bytes)));
  });

  it('refuses offsets outside the buffer', () => {
    expectInvalid(() => readDer(hex('05 00'), 2));
    expectInvalid(() => readDer(hex('05 00'), -1));
    expectInvalid(() => readDer(hex('05 00'), 0, 3));
  });
});

describe('parseDer', () => {
  it('accepts exactly one element', () => {
    expect(parseDer(hex('05 00')).tag).toBe(DerTag.NULL);
  });

  it('refuses trailing octets', () => {
    expect(expectInvalid(() => parseDer(hex('05 00 00'))).message).toContain('1 octets after the element');
  });
});

describe('derChildren', () => {
  it('lists the children of a SEQUENCE in order', () => {
    const children = derChildren(parseDer(hex('30 06 02 01 01 02 01 02')));
    expect(children.map((c) => [c.tag, c.start, [...c.content]])).toEqual([
      [DerTag.INTEGER, 2, [1]],
      [DerTag.INTEGER, 5, [2]],
    ]);
  });

  it('reads SETs, empty SEQUENCEs and context-tagged constructed values', () => {
    expect(derChildren(parseDer(hex('31 04 05 00 05 00'))).map((c) => c.tag)).toEqual([DerTag.NULL, DerTag.NULL]);
    expect(derChildren(parseDer(hex('30 00')))).toEqual([]);
    // [3] EXPLICIT, as around certificate extensions.
    const wrapped = derChildren(parseDer(hex('a3 04 30 02 05 00')));
    expect(wrapped.map((c) => c.tag)).toEqual([DerTag.SEQUENCE]);
    expect(derChildren(wrapped[0]!).map((c) => c.tag)).toEqual([DerTag.NULL]);
  });

  it('reads children inside a long-form SEQUENCE', () => {
    const inner = Buffer.concat([hex('04 81 80'), Buffer.alloc(128, 1), hex('05 00')]);
    const seq = Buffer.concat([hex('30 81'), Buffer.of(inner.length), inner]);
    expect(derChildren(parseDer(seq)).map((c) => [c.tag, c.content.length])).toEqual([
      [DerTag.OCTET_STRING, 128],
      [DerTag.NULL, 0],
    ]);
  });

  it('refuses a child that overruns its parent, even when the buffer goes on', () => {
    // The SEQUENCE holds 3 octets; its INTEGER claims 5, which the trailing bytes would cover.
    const bytes = hex('30 03 02 05 01 01 01 01 01');
    const sequence = readDer(bytes);
    expectInvalid(() => derChildren(sequence));
  });

  it('refuses a primitive element', () => {
    expectInvalid(() => derChildren(parseDer(hex('04 01 00'))));
  });
});

describe('decodeOid', () => {
  it.each([
    ['06 03 2b 65 70', '1.3.101.112'], // id-Ed25519, RFC 8410 §3
    ['06 03 55 1d 0f', '2.5.29.15'], // id-ce-keyUsage, RFC 5280 §4.2.1.3
    ['06 09 2a 86 48 86 f7 0d 01 01 01', '1.2.840.113549.1.1.1'], // rsaEncryption
    ['06 08 2a 86 48 ce 3d 03 01 07', '1.2.840.10045.3.1.7'], // prime256v1
    ['06 03 88 37 03', '2.999.3'], // X.690 §8.19.5 example: first arc 2, second arc above 39
    ['06 01 00', '0.0'],
    ['06 0b 2a 82 80 80 80 80 80 80 80 80 00', '1.2.18446744073709551616'], // 2^64: beyond a double
  ])('decodes %s as %s', (bytes, dotted) => {
    expect(decodeOid(parseDer(hex(bytes)))).toBe(dotted);
  });

  it.each([
    ['an empty OID', '06 00'],
    ['an OID that ends inside an arc', '06 02 2a 86'],
    ['an arc padded with 0x80', '06 02 80 01'],
    ['an element that is not an OID', '04 01 2a'],
  ])('refuses %s', (_name, bytes) => {
    expectInvalid(() => decodeOid(parseDer(hex(bytes))));
  });
});

describe('decodeInteger', () => {
  it.each([
    ['02 01 00', 0n],
    ['02 01 01', 1n],
    ['02 01 7f', 127n],
    ['02 02 00 80', 128n],
    ['02 03 0f 42 40', 1_000_000n],
    ['02 03 0f 42 41', 1_000_001n],
    ['02 04 7f ff ff ff', 2n ** 31n - 1n],
    ['02 05 00 80 00 00 00', 2n ** 31n],
    ['02 05 00 ff ff ff ff', 2n ** 32n - 1n],
    ['02 09 01 00 00 00 00 00 00 00 01', 2n ** 64n + 1n], // a double would round it to 2^64
    ['02 01 ff', -1n],
    ['02 01 80', -128n],
    ['02 02 ff 7f', -129n],
    ['02 04 80 00 00 00', -(2n ** 31n)],
  ])('decodes %s as %s', (bytes, value) => {
    expect(decodeInteger(parseDer(hex(bytes)))).toBe(value);
  });

  it('decodes an INTEGER of 2^1000 exactly, as a bigint', () => {
    const content = Buffer.concat([Buffer.of(0x01), Buffer.alloc(125)]);
    expect(decodeInteger(parseDer(Buffer.concat([hex('02 7e'), content])))).toBe(2n ** 1000n);
  });

  it.each([
    ['an empty INTEGER', '02 00'],
    ['a leading 00 that only repeats the sign', '02 02 00 7f'],
    ['a leading ff that only repeats the sign', '02 02 ff 80'],
    ['an element that is not an INTEGER', '04 01 01'],
  ])('refuses %s', (_name, bytes) => {
    expectInvalid(() => decodeInteger(parseDer(hex(bytes))));
  });
});

describe('unwrapOctetString (PKCS#11 CKA_EC_POINT)', () => {
  it('unwraps a P-256 point: 04 41 04||X||Y', () => {
    const point = ecPoint('P-256');
    expect(point.length).toBe(65);
    const wrapped = Buffer.concat([hex('04 41'), point]);
    expect(Buffer.from(unwrapOctetString(wrapped))).toEqual(point);
  });

  it('unwraps a P-521 point: 04 81 85 04||X||Y', () => {
    const point = ecPoint('P-521');
    expect(point.length).toBe(133);
    const wrapped = Buffer.concat([hex('04 81 85'), point]);
    expect(wrapped.subarray(0, 4)).toEqual(hex('04 81 85 04'));
    expect(Buffer.from(unwrapOctetString(wrapped))).toEqual(point);
  });

  it('unwraps an Ed25519 public key: 04 20 X', () => {
    const x = Buffer.from(newKeyPair('ed25519').publicJwk.x ?? '', 'base64url');
    expect(Buffer.from(unwrapOctetString(Buffer.concat([hex('04 20'), x])))).toEqual(x);
  });

  it('refuses a truncated point, a raw point, trailing bytes and garbage', () => {
    const point = ecPoint('P-256');
    expectInvalid(() => unwrapOctetString(Buffer.concat([hex('04 41'), point.subarray(0, 64)])));
    expectInvalid(() => unwrapOctetString(point)); // a bare 04||X||Y, as some tokens store it
    expectInvalid(() => unwrapOctetString(Buffer.concat([hex('04 41'), point, hex('00')])));
    expectInvalid(() => unwrapOctetString(Buffer.concat([hex('04 81 85'), ecPoint('P-521').subarray(0, 100)])));
    expectInvalid(() => unwrapOctetString(hex('03 02 00 01')));
    expectInvalid(() => unwrapOctetString(Buffer.from('not DER at all')));
  });
});

describe('decodeBitString', () => {
  it.each([
    ['digitalSignature', '03 02 07 80', [true]],
    ['keyEncipherment', '03 02 05 20', [false, false, true]],
    ['digitalSignature and keyEncipherment', '03 02 05 a0', [true, false, true]],
    ['keyCertSign and cRLSign', '03 02 01 06', [false, false, false, false, false, true, true]],
    ['decipherOnly (bit 8)', '03 03 07 00 80', [false, false, false, false, false, false, false, false, true]],
    ['no bits', '03 01 00', []],
  ])('reads KeyUsage %s', (_name, bytes, bits) => {
    expect(decodeBitString(parseDer(hex(bytes)))).toEqual(bits);
  });

  it.each([
    ['unused bits above 7', '03 02 08 00'],
    ['unused bits with no data', '03 01 03'],
    ['no unused-bits octet', '03 00'],
    ['an element that is not a BIT STRING', '04 02 07 80'],
  ])('refuses %s', (_name, bytes) => {
    expectInvalid(() => decodeBitString(parseDer(hex(bytes))));
  });
});

describe('garbage', () => {
  /** Walks every constructed element, as a caller would. */
  function walk(bytes: Uint8Array): void {
    const visit = (element: ReturnType<typeof readDer>, depth: number): void => {
      if (element.constructed && depth < 64) for (const child of derChildren(element)) visit(child, depth + 1);
      if (element.tag === DerTag.OID) decodeOid(element);
      if (element.tag === DerTag.BIT_STRING) decodeBitString(element);
    };
    visit(parseDer(bytes), 0);
  }

  it('ends every random input in a result or ERR_INPUT_INVALID, never another error', () => {
    // A fixed linear congruential generator: the same 3000 inputs on every run.
    let seed = 0x2545f491;
    const next = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 24;
    };
    const prefixes = [[], [0x30], [0x30, 0x82], [0x04, 0x81], [0xa3], [0x06]];
    let parsed = 0;
    for (let i = 0; i < 3000; i++) {
      const prefix = prefixes[i % prefixes.length]!;
      const bytes = Uint8Array.from([...prefix, ...Array.from({ length: next() % 40 }, next)]);
      try {
        walk(bytes);
        parsed++;
      } catch (error) {
        expect(error).toBeInstanceOf(KeymintError);
        expect((error as KeymintError).code).toBe(ErrorCode.INPUT_INVALID);
      }
    }
    // Some inputs must have failed: otherwise the check above proved nothing.
    expect(parsed).toBeLessThan(3000);
  });
});
