import { parseStateFileName, stateFileName } from './state.js';

describe('state file names', () => {
  it('parse back into network, container and interface', () => {
    const key = { network: 'cbr0', containerID: 'a-b.c_d', ifname: 'net1@x' };
    expect(parseStateFileName(stateFileName(key))).toEqual(key);
  });

  it.each(['c1', 'cbr0:c1', 'cbr0:c1:eth0:x', '.cbr0:c1:eth0', 'cbr0:.c1:eth0', 'cbr0:c1:', 'cbr0:c1:..', 'cbr0:c1:eth0123456789012', '.cbr0:c1:eth0.12.tmp'])(
    'ignore %j, which no attachment of ours is saved as',
    (name) => {
      expect(parseStateFileName(name)).toBeUndefined();
    },
  );
});
