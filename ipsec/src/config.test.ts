import { inspect } from 'node:util';
import { RecordingLogger } from '@flannel-ts/core/testing';
import { DEFAULT_ESP_PROPOSAL, parseIpsecConfig } from './config.js';
import { IpsecSecret } from './secret.js';

const PSK = 'a3'.repeat(48); // 96 characters, as `openssl rand -hex 48` makes

describe('ipsec backend config', () => {
  it("has Go flannel's defaults: no UDP encapsulation, aes128gcm16-sha256-prfsha256-ecp256", () => {
    const cfg = parseIpsecConfig({ Type: 'ipsec', PSK });
    expect([cfg.psk.reveal(), cfg.udpEncap, cfg.espProposal]).toEqual([PSK, false, DEFAULT_ESP_PROPOSAL]);
    expect(DEFAULT_ESP_PROPOSAL).toBe('aes128gcm16-sha256-prfsha256-ecp256');
  });

  it('reads UDPEncap and ESPProposal, keys in any case, and warns about unknown keys', () => {
    const logger = new RecordingLogger();
    const cfg = parseIpsecConfig({ type: 'ipsec', psk: PSK, udpencap: true, ESPProposal: 'aes256gcm16-ecp384', Mtu: 1400 }, logger);
    expect([cfg.udpEncap, cfg.espProposal]).toEqual([true, 'aes256gcm16-ecp384']);
    expect(logger.entries.map((e) => [e.level, e.obj])).toEqual([['warn', { field: 'Backend.Mtu' }]]);
  });

  it('refuses a short PSK naming its length and the 96 minimum, never its text', () => {
    const short = 'secret-'.repeat(13); // 91 characters
    const err = (() => {
      try {
        parseIpsecConfig({ PSK: short });
      } catch (e) {
        return e as Error;
      }
      throw new Error('accepted');
    })();
    expect(err.message).toBe(
      'Backend.PSK: config error, password is too short: 91 characters, at least 96 are needed; make one with `openssl rand -hex 48` (96 characters)',
    );
    expect(err.message).not.toContain('secret-');
    expect(inspect(err)).not.toContain('secret-');
  });

  it.each([
    ['no PSK', {}, /Backend.PSK: config error, the ipsec backend needs a pre-shared key of at least 96 characters/],
    ['a PSK that is a number', { PSK: 12345 }, /Backend.PSK: config error, the PSK must be a string \(it is a number\)/],
    ['UDPEncap "yes"', { PSK, UDPEncap: 'yes' }, /Backend.UDPEncap: .*"yes" is not true or false/],
    ['an ESPProposal that is not one', { PSK, ESPProposal: 'aes128 gcm; rm -rf' }, /Backend.ESPProposal: .* is not a strongSwan ESP proposal/],
  ])('refuses %s with a clear error', (_what, backend, message) => {
    expect(() => parseIpsecConfig(backend as Record<string, unknown>)).toThrow(message);
  });

  it('keeps the PSK out of every way a value is printed', () => {
    const s = new IpsecSecret(PSK);
    const printed = [String(s), `${s}`, JSON.stringify({ s }), inspect({ s }), inspect(s, { showHidden: true, depth: 5 })];
    for (const p of printed) expect(p).not.toContain(PSK);
    expect(s.redact(`charon said: bad key ${PSK}!`)).toBe('charon said: bad key [redacted PSK]!');
    expect(s.length).toBe(96);
  });
});
