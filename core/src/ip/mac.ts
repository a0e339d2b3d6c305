/** A 6-byte Ethernet address, printed lower-case with colons as iproute2 and Go do. */
export class MAC {
  private constructor(readonly bytes: Uint8Array) {}

  static tryParse(text: string): MAC | undefined {
    const m = /^([0-9a-fA-F]{2})([:-])([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})$/.exec(text);
    if (!m) return undefined;
    return new MAC(Uint8Array.from([m[1], m[3], m[4], m[5], m[6], m[7]].map((h) => parseInt(h!, 16))));
  }

  static parse(text: string): MAC {
    const mac = MAC.tryParse(text);
    if (!mac) throw new RangeError(`invalid MAC address: ${JSON.stringify(text)}`);
    return mac;
  }

  static fromBytes(bytes: Uint8Array): MAC {
    if (bytes.length !== 6) throw new RangeError(`a MAC address has 6 bytes, got ${bytes.length}`);
    return new MAC(Uint8Array.from(bytes));
  }

  /** A random locally administered unicast address (first byte: bit 0 clear, bit 1 set), as flannel makes VTEP MACs. */
  static randomLocal(random: (n: number) => Uint8Array): MAC {
    const b = Uint8Array.from(random(6));
    b[0] = (b[0]! & 0xfe) | 0x02;
    return new MAC(b);
  }

  equals(other: MAC | undefined): boolean {
    return other !== undefined && this.toString() === other.toString();
  }

  toString(): string {
    return [...this.bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
  }

  toJSON(): string {
    return this.toString();
  }
}
