export { ViciClient, type ViciConnectOptions, type ViciRequestOptions } from './client.js';
export { ViciError, type ViciErrorKind } from './errors.js';
export type { ViciSection, ViciValue } from './message.js';
