import { derChildren, parseDer, type DerElement } from '../../src/der.js';

/** DER: tag, definite length (X.690 §8.1.3), content. Lengths up to 4 octets, as keymint reads. */
export function der(tag: number, ...content: Uint8Array[]): Buffer {
  const body = Buffer.concat(content);
  if (body.length < 0x80) return Buffer.concat([Buffer.of(tag, body.length), body]);
  const octets: number[] = [];
  for (let n = body.length; n > 0; n = Math.floor(n / 256)) octets.unshift(n % 256);
  return Buffer.concat([Buffer.of(tag, 0x80 | octets.length, ...octets), body]);
}

export const seq = (...content: Uint8Array[]): Buffer => der(0x30, ...content);
export const octets = (bytes: Uint8Array): Buffer => der(0x04, bytes);
export const derNull = (): Buffer => Buffer.of(0x05, 0x00);

/** The minimal two's complement encoding of any integer (X.690 §8.3), negatives and 2^1000 included. */
export function integer(value: bigint): Buffer {
  let bytes = 1;
  while (value < -(1n << BigInt(bytes * 8 - 1)) || value >= 1n << BigInt(bytes * 8 - 1)) bytes++;
  const unsigned = value < 0n ? (1n << BigInt(bytes * 8)) + value : value;
  return der(0x02, Buffer.from(unsigned.toString(16).padStart(bytes * 2, '0'), 'hex'));
}

export function oid(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split('.').map(BigInt) as [bigint, bigint, ...bigint[]];
  const out: number[] = [];
  for (const arc of [first * 40n + second, ...rest]) {
    const groups = [Number(arc & 0x7fn)];
    for (let n = arc >> 7n; n > 0n; n >>= 7n) groups.unshift(Number(n & 0x7fn) | 0x80);
    out.push(...groups);
  }
  return der(0x06, Buffer.from(out));
}

/**
 * `bytes` (one DER element) with the element `target` replaced by `replacement`, every enclosing
 * length rewritten: how a test turns a real file's field into a hostile one.
 */
export function replaceElement(bytes: Uint8Array, target: DerElement, replacement: Uint8Array): Buffer {
  const rebuild = (element: DerElement): Buffer => {
    if (element.start === target.start && element.end === target.end) return Buffer.from(replacement);
    if (element.constructed && element.start <= target.start && target.end <= element.end) {
      return der(element.tag, ...derChildren(element).map(rebuild));
    }
    return Buffer.from(bytes.subarray(element.start, element.end));
  };
  return rebuild(parseDer(bytes));
}

/** The element at a path of child indexes below `root`: `at(root, 0, 1)` is the second child of the first. */
export function at(root: DerElement, ...path: number[]): DerElement {
  let element = root;
  for (const index of path) {
    const child = derChildren(element)[index];
    if (child === undefined) throw new Error(`no child ${index} at offset ${element.start}`);
    element = child;
  }
  return element;
}
