import { ContainerModule } from 'inversify';
import { CommandRunner, execRunner } from './command-runner.js';

/** How traffic rules reach the kernel: iptables-restore and nft as child processes. */
export const rulesModule = new ContainerModule(({ bind }) => {
  bind<CommandRunner>(CommandRunner).toConstantValue(execRunner);
});
