import { UserError } from '../errors/user-error.js';
import { backendFieldParsers } from './json-fields.js';

const { uint, bool } = backendFieldParsers('VXLAN');

const failure = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a UserError');
};

describe('backend field parsers', () => {
  it('uint: the value, or the default when absent', () => {
    expect(uint('VNI', 42, 1, 1, 0xffffff)).toBe(42);
    expect(uint('VNI', undefined, 1, 1, 0xffffff)).toBe(1);
    expect(uint('VNI', null, 1, 1, 0xffffff)).toBe(1);
  });

  it('uint: a UserError naming Backend.FIELD and the backend, for a non-number, a fraction or a value out of range', () => {
    for (const bad of ['one', 1.5, 0, 0x1000000]) {
      const err = failure(() => uint('VNI', bad, 1, 1, 0xffffff));
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).message).toBe(
        `Backend.VNI: error decoding VXLAN backend config: ${JSON.stringify(bad)} is not a whole number from 1 to 16777215; set VNI to a number in that range, or leave it out`,
      );
    }
  });

  it('bool: the value, or false when absent; anything else is a UserError', () => {
    expect(bool('GBP', true)).toBe(true);
    expect(bool('GBP', undefined)).toBe(false);
    expect(bool('GBP', null)).toBe(false);
    expect((failure(() => bool('GBP', 'yes')) as UserError).message).toBe(
      'Backend.GBP: error decoding VXLAN backend config: "yes" is not true or false; write GBP: true or GBP: false',
    );
  });

  it('names each backend in its own words', () => {
    expect(() => backendFieldParsers('wireguard').uint('ListenPort', 70000, 51820, 1, 65535)).toThrow(
      'Backend.ListenPort: error decoding wireguard backend config: 70000 is not a whole number from 1 to 65535',
    );
  });
});
