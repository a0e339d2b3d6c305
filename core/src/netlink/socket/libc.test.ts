import { mappedLibc } from './libc.js';

const line = (path: string) => `7f2a4c000000-7f2a4c028000 r--p 00000000 fe:01 1234 ${path}`;

describe('mappedLibc', () => {
  it('finds glibc by libc.so.6, or libc-2.NN.so before glibc 2.34', () => {
    expect(mappedLibc([line('/usr/bin/node'), line('/usr/lib/x86_64-linux-gnu/libc.so.6')].join('\n'))).toBe('glibc');
    expect(mappedLibc([line('/usr/bin/node'), line('/lib/x86_64-linux-gnu/libc-2.31.so'), line('[stack]')].join('\n'))).toBe('glibc');
  });

  it('finds musl by its loader', () => {
    expect(mappedLibc([line('/usr/local/bin/node'), line('/lib/ld-musl-x86_64.so.1')].join('\n'))).toBe('musl');
  });

  it('says nothing when neither is mapped, or the map could not be read', () => {
    expect(mappedLibc([line('/usr/bin/node'), line('/usr/lib/libcrypto.so.3'), line('/opt/libc.so.6.bak')].join('\n'))).toBeUndefined();
    expect(mappedLibc('')).toBeUndefined();
  });

  it('agrees with what Node reports for this process', async () => {
    const { readFileSync } = await import('node:fs');
    const { header } = process.report.getReport() as { header: { glibcVersionRuntime?: string } };
    expect(mappedLibc(readFileSync('/proc/self/maps', 'utf8'))).toBe(header.glibcVersionRuntime ? 'glibc' : 'musl');
  });
});
