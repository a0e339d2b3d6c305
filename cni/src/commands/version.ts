import { LATEST_VERSION, SUPPORTED_VERSIONS } from '../versions.js';
import type { Output } from './output.js';

export function cmdVersion(): Output {
  return { stdout: JSON.stringify({ cniVersion: LATEST_VERSION, supportedVersions: SUPPORTED_VERSIONS }), code: 0 };
}
