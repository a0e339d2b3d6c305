import { endianness } from 'node:os';
import { c, NativeArena, SOL_SOCKET } from './libc.js';

const SO_ATTACH_FILTER = 26;

// Classic BPF opcodes (linux/filter.h).
const LDH_ABS = 0x28; // BPF_LD | BPF_H | BPF_ABS
const JEQ_K = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const RET_K = 0x06; // BPF_RET | BPF_K

const INSN = 8; // struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }
// struct sock_fprog { unsigned short len; struct sock_filter *filter; } on a 64-bit host; a 32-bit kernel
// refuses this layout (EINVAL), and the reader's own skip takes over.
const FPROG = 16;

/**
 * The program, for a little-endian host: load nlmsg_type, drop the message if it is one of `types`, keep
 * it otherwise. A load reads network byte order and nlmsg_type is in the host's, so the constants are
 * compared byte-swapped. The kernel sends each rtnetlink and XFRM notification in a datagram of its own,
 * so the first header is the only one.
 */
export function dropTypesProgram(types: readonly number[]): Buffer {
  const n = types.length;
  const prog = Buffer.alloc((n + 3) * INSN);
  const insn = (i: number, code: number, jt: number, jf: number, k: number) => {
    prog.writeUInt16LE(code, i * INSN);
    prog.writeUInt8(jt, i * INSN + 2);
    prog.writeUInt8(jf, i * INSN + 3);
    prog.writeUInt32LE(k >>> 0, i * INSN + 4);
  };
  const asLoaded = (t: number) => ((t & 0xff) << 8) | ((t >> 8) & 0xff);
  insn(0, LDH_ABS, 0, 0, 4); // offsetof(struct nlmsghdr, nlmsg_type)
  // Instruction i jumps to the drop at n + 2 when equal: jt counts from the instruction after it.
  types.forEach((t, i) => insn(i + 1, JEQ_K, n - i, 0, asLoaded(t)));
  insn(n + 1, RET_K, 0, 0, 0xffffffff);
  insn(n + 2, RET_K, 0, 0, 0);
  return prog;
}

/**
 * Asks the kernel to drop a netlink socket's messages of these types before they are queued: the
 * monitor wants deletions only, and each route it would skip cost a datagram, a read and a decode (a
 * 5,000-peer start adds 20,000 entries). Returns false, attaching nothing, on a big-endian host or when
 * the kernel refuses; the reader then skips those messages itself.
 */
export function dropMessageTypes(fd: number, types: readonly number[]): boolean {
  if (types.length === 0 || endianness() !== 'LE') return false;
  try {
    const prog = dropTypesProgram(types);
    const arena = new NativeArena(prog.length);
    try {
      prog.copy(arena.buf);
      const fprog = Buffer.alloc(FPROG);
      fprog.writeUInt16LE(prog.length / INSN, 0);
      fprog.writeBigUInt64LE(arena.address, 8);
      const r = c().setsockopt([fd, SOL_SOCKET, SO_ATTACH_FILTER, fprog, FPROG]) as unknown as { value: number };
      return r.value === 0;
    } finally {
      // The kernel keeps its own copy of the program.
      arena.free();
    }
  } catch {
    // An optimisation only: without it the reader skips those messages itself.
    return false;
  }
}
