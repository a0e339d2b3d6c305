/** `@flannel-ts/core/ip`: IP and CIDR math alone, for small programs (the CNI plugin) that load nothing else. */
export { IP, type IPFamily } from './ip.js';
export { IPNet } from './ipnet.js';
