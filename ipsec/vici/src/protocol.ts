// The VICI wire format, from strongSwan's src/libcharon/plugins/vici/README.md.
//
//   transport: u32 big-endian length of what follows, then that many bytes (charon caps it at 512 KiB)
//   packet:    u8 type, then u8 name length + name for the named types, then the message
//   message:   a sequence of elements, each a u8 type, then u8 name length + name (sections, key-values,
//              lists), then u16 big-endian value length + value (key-values, list items)

/** Packet types: the first byte of every transport segment. */
export const PacketType = {
  CMD_REQUEST: 0,
  CMD_RESPONSE: 1,
  CMD_UNKNOWN: 2,
  EVENT_REGISTER: 3,
  EVENT_UNREGISTER: 4,
  EVENT_CONFIRM: 5,
  EVENT_UNKNOWN: 6,
  EVENT: 7,
} as const;
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

/** Packet types followed by a name (the command or event). */
export const NAMED_PACKET_TYPES: ReadonlySet<number> = new Set([
  PacketType.CMD_REQUEST,
  PacketType.EVENT_REGISTER,
  PacketType.EVENT_UNREGISTER,
  PacketType.EVENT,
]);

/** Message element types. */
export const Element = {
  SECTION_START: 1,
  SECTION_END: 2,
  KEY_VALUE: 3,
  LIST_START: 4,
  LIST_ITEM: 5,
  LIST_END: 6,
} as const;

/** charon refuses segments longer than this (VICI README, "Transport protocol"); so do we, both ways. */
export const MAX_SEGMENT = 512 * 1024;
/** Names carry a u8 length. */
export const MAX_NAME = 0xff;
/** Values carry a u16 length. */
export const MAX_VALUE = 0xffff;

export const PACKET_TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(PacketType).map(([k, v]) => [v, k]));
