import { applyEnvOverlay, envName, parseFlags, usage } from './flags.js';
import { toOptions } from './options.js';

describe('parseFlags (Go flag syntax)', () => {
  it("has Go flanneld's defaults", () => {
    const { values } = parseFlags([]);
    expect(values).toMatchObject({
      'etcd-endpoints': 'http://127.0.0.1:4001,http://127.0.0.1:2379',
      'etcd-prefix': '/coreos.com/network',
      'subnet-file': '/run/flannel/subnet.env',
      'subnet-lease-renew-margin': 60,
      'healthz-ip': '0.0.0.0',
      'healthz-port': 0,
      'iptables-resync': 5,
      'iptables-forward-rules': true,
      'kube-annotation-prefix': 'flannel.alpha.coreos.com',
      'net-config-path': '/etc/kube-flannel/net-conf.json',
      'ip-masq': false,
    });
  });

  it('accepts -flag, --flag, =value and a separate value; bools take no separate value', () => {
    const { values, set } = parseFlags(['-etcd-prefix', '/a', '--subnet-file=/x.env', '-ip-masq', '--iptables-forward-rules=false', '-healthz-port=8081']);
    expect(values).toMatchObject({ 'etcd-prefix': '/a', 'subnet-file': '/x.env', 'ip-masq': true, 'iptables-forward-rules': false, 'healthz-port': 8081 });
    expect([...set].sort()).toEqual(['etcd-prefix', 'healthz-port', 'ip-masq', 'iptables-forward-rules', 'subnet-file']);
  });

  it('collects repeated --iface and --iface-regex in order', () => {
    expect(parseFlags(['--iface=eth1', '-iface', '10.0.0.1', '--iface-regex=^en']).values).toMatchObject({
      iface: ['eth1', '10.0.0.1'],
      'iface-regex': ['^en'],
    });
  });

  it('explains unknown flags, missing values, bad numbers and stray arguments', () => {
    expect(() => parseFlags(['--nope'])).toThrow('-nope: flag provided but not defined: -nope; run flanneld --help for the list of flags');
    expect(() => parseFlags(['--etcd-prefix'])).toThrow('-etcd-prefix: flag needs an argument: -etcd-prefix');
    expect(() => parseFlags(['--healthz-port=http'])).toThrow('invalid value "http" for flag -healthz-port: parse error');
    expect(() => parseFlags(['--ip-masq=yes'])).toThrow('invalid boolean value "yes" for -ip-masq');
    expect(() => parseFlags(['eth0'])).toThrow('arguments: unexpected argument "eth0"');
  });

  it('lists every flag in --help', () => {
    expect(usage()).toContain('-etcd-endpoints string');
    expect(usage()).toContain('-embedded-subnet-mgr');
  });
});

describe('FLANNELD_* overlay', () => {
  it('fills flags not given on the command line; the command line wins; empty values are ignored', () => {
    const parsed = parseFlags(['--etcd-prefix=/cli']);
    applyEnvOverlay(parsed, {
      FLANNELD_ETCD_PREFIX: '/env',
      FLANNELD_IFACE: 'eth9',
      FLANNELD_IP_MASQ: 'true',
      FLANNELD_PUBLIC_IP: '',
      FLANNELD_HEALTHZ_PORT: '9',
    });
    expect(parsed.values).toMatchObject({ 'etcd-prefix': '/cli', iface: ['eth9'], 'ip-masq': true, 'public-ip': '', 'healthz-port': 9 });
    expect(envName('log_backtrace_at')).toBe('FLANNELD_LOG_BACKTRACE_AT');
  });

  it('names the variable when its value is bad', () => {
    expect(() => applyEnvOverlay(parseFlags([]), { FLANNELD_SUBNET_LEASE_RENEW_MARGIN: 'soon' })).toThrow(
      /^FLANNELD_SUBNET_LEASE_RENEW_MARGIN: invalid value "soon"/,
    );
  });
});

describe('toOptions', () => {
  it('checks the renew margin, IPs, regexes and store choice', () => {
    const opts = (args: string[]) => toOptions(parseFlags(args).values);
    expect(() => opts(['--subnet-lease-renew-margin=1440'])).toThrow('Invalid subnet-lease-renew-margin option, out of acceptable range');
    expect(() => opts(['--public-ip=10.0.0'])).toThrow('-public-ip: invalid public IP address "10.0.0"');
    expect(() => opts(['--public-ipv6=10.0.0.1'])).toThrow('-public-ipv6: invalid public IP address');
    expect(() => opts(['--iface-regex=('])).toThrow(/-iface-regex: "\(" is not a regular expression/);
    expect(() => opts(['--kube-subnet-mgr', '--embedded-subnet-mgr'])).toThrow('cannot be combined');
    expect(() => opts(['--log-level=loud'])).toThrow('-log-level: unknown level "loud"');
    expect(() => opts(['--healthz-ip=not-an-ip'])).toThrow('-healthz-ip: "not-an-ip" is not an IP address');
    expect(opts(['--embedded-subnet-mgr']).store).toBe('embedded');
    expect(opts([]).kernelResyncSeconds).toBe(0);
    expect(opts(['--kernel-resync=10']).kernelResyncSeconds).toBe(10);
    expect(() => opts(['--kernel-resync=-1'])).toThrow('-kernel-resync: -1 is not a period');
    expect(opts(['-v=2']).logLevel).toBe('debug');
    expect(opts(['--etcd-prefix=/x/y/']).etcd.prefix).toBe('/x/y');
    expect(opts([]).pluginDirs).toEqual(['/usr/lib/flannel/plugins', '/etc/flannel/plugins']);
    expect(opts(['--plugin-dir=/opt/a', '-plugin-dir', '/opt/b']).pluginDirs).toEqual(['/opt/a', '/opt/b']);
  });
});
