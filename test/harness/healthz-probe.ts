// node healthz-probe.js URL INTERVAL_MS: GETs URL every INTERVAL_MS until SIGTERM, then prints the slowest
// answer, how many came and how many failed. Run inside a node's namespace by the udp bench (test/bench/udp.ts).
const [url, interval] = [process.argv[2]!, Number(process.argv[3] ?? 100)];
let max = 0;
let answers = 0;
let failures = 0;
let stopping = false;

async function loop(): Promise<void> {
  // The first request pays for loading fetch itself; it is not the server's answer time.
  await fetch(url).then(
    (r) => r.text(),
    () => undefined,
  );
  console.error('probing');
  while (!stopping) {
    const t0 = performance.now();
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
      await r.text();
      if (r.ok) answers++;
      else failures++;
    } catch {
      failures++;
    }
    max = Math.max(max, performance.now() - t0);
    await new Promise((r) => setTimeout(r, interval));
  }
}

process.on('SIGTERM', () => {
  stopping = true;
  console.log(`max_ms=${max.toFixed(1)} answers=${answers} failures=${failures}`);
  process.exit(0);
});
void loop();
