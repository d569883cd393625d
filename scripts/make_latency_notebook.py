import nbformat as nbf
from nbclient import NotebookClient
nb = nbf.v4.new_notebook()
md = nbf.v4.new_markdown_cell; code = nbf.v4.new_code_cell
nb.cells = [
md("""# Latency vs throughput: a batching server, simulated

A server that runs a model in **batches** trades latency for throughput: waiting to fill a batch adds queueing
delay, while running several requests in one call amortises fixed per-call cost. This notebook simulates that
trade-off with a discrete-event model so you can see the shape of the curve before you measure your own.

**Model of the server** (assumptions, stated so you can change them):

- Requests arrive as a Poisson process at rate λ (requests/s).
- One worker. A batch of *b* requests takes `t(b) = t0 + t1·b` seconds (fixed overhead + per-item cost).
  The defaults `t0 = 4 ms`, `t1 = 1.5 ms` are in the range of the MiniLM ONNX Runtime figures measured for this site's
  [embedding recipe](../recipes/onnx-embeddings.md) (batch 1 ≈ 265 sentences/s, batch 32 ≈ 600/s on 2 cores).
- **Dynamic batching**: when the worker is free it takes up to `max_batch` waiting requests, waiting at most
  `max_wait` for the first batch to fill.

Little's law, `L = λ·W` (mean number in the system = arrival rate × mean time in system), ties the three
numbers together and is checked at the end."""),
code("""import numpy as np
import matplotlib.pyplot as plt

rng = np.random.default_rng(0)

def simulate(rate, max_batch, max_wait, t0=0.004, t1=0.0015, n=20_000):
    \"\"\"Return per-request latencies (s), mean batch size and mean number in system for a dynamic-batching server.\"\"\"
    arrivals = np.cumsum(rng.exponential(1 / rate, n))
    latencies = np.empty(n)
    i, free_at, batches = 0, 0.0, []
    while i < n:
        start = max(free_at, arrivals[i])
        # wait up to max_wait after the first waiting request for the batch to fill
        deadline = max(start, arrivals[i] + max_wait)
        j = i
        while j < n and j - i < max_batch and arrivals[j] <= max(start, min(deadline, arrivals[min(i + max_batch - 1, n - 1)])):
            j += 1
        launch = start if j - i == max_batch or j == n else max(start, min(deadline, arrivals[j - 1]))
        j = max(j, i + 1)
        b = j - i
        done = launch + t0 + t1 * b
        latencies[i:j] = done - arrivals[i:j]
        batches.append(b)
        free_at, i = done, j
    span = free_at - arrivals[0]
    # time-average number in system, measured independently by sampling instants uniformly
    t = np.sort(rng.uniform(arrivals[0], free_at, 4_000))
    departures = np.sort(arrivals + latencies)
    in_system = float(np.mean(np.searchsorted(arrivals, t, "right") - np.searchsorted(departures, t, "right")))
    return latencies, float(np.mean(batches)), in_system, n / span

lat, mb, L, thr = simulate(rate=300, max_batch=32, max_wait=0.002)
print(f"p50 {np.percentile(lat, 50)*1e3:.1f} ms  p99 {np.percentile(lat, 99)*1e3:.1f} ms  mean batch {mb:.1f}  throughput {thr:.0f} req/s")"""),
md("""## Sweep the offered load

For each arrival rate, compare **no batching** (`max_batch = 1`) with **dynamic batching** (`max_batch = 32`,
`max_wait = 2 ms`). Without batching the server saturates at `1 / (t0 + t1)` ≈ 182 req/s and latency explodes;
with batching it keeps up far beyond that, at the price of a little extra latency at low load."""),
code("""rates = [20, 60, 120, 160, 175, 250, 400, 550]
rows = []
for r in rates:
    for mbatch, wait in [(1, 0.0), (32, 0.002)]:
        lat, meanb, L, thr = simulate(rate=r, max_batch=mbatch, max_wait=wait, n=8_000)
        rows.append((r, mbatch, np.percentile(lat, 50) * 1e3, np.percentile(lat, 99) * 1e3, meanb, thr))
print(f"{'offered req/s':>13} {'max_batch':>9} {'p50 ms':>8} {'p99 ms':>9} {'mean batch':>10} {'served req/s':>12}")
for r, mbatch, p50, p99, meanb, thr in rows:
    print(f"{r:>13} {mbatch:>9} {p50:>8.1f} {p99:>9.1f} {meanb:>10.1f} {thr:>12.0f}")"""),
code("""fig, ax = plt.subplots(figsize=(7, 3.6))
for mbatch, label in [(1, "no batching"), (32, "dynamic batching (max 32, 2 ms)")]:
    pts = [(thr, p99) for r, m, p50, p99, meanb, thr in rows if m == mbatch]
    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
ax.set_yscale("log"); ax.set_xlabel("served throughput (req/s)"); ax.set_ylabel("p99 latency (ms, log)")
ax.set_title("Latency vs throughput, simulated single worker"); ax.grid(alpha=0.3); ax.legend()
plt.tight_layout(); plt.show()"""),
md("""## Little's law holds

The time-average number of requests in the system (sampled at random instants) should equal throughput × mean latency (both measured from
the same simulation). This is the relation that lets you size concurrency: to sustain λ req/s at mean latency W
you need about λ·W requests in flight, so a load test at concurrency C can reach at most C / W req/s."""),
code("""lat, meanb, L, thr = simulate(rate=400, max_batch=32, max_wait=0.002)
print(f"L (time-average in system) = {L:.3f};  lambda * W = {thr * lat.mean():.3f}")
assert abs(L - thr * lat.mean()) / L < 0.05, "sampled occupancy should match Little's law within 5%"
"""),
md("""**Takeaways.** Batching is what lets one model replica serve hundreds of requests per second; its cost is
the batching wait (bounded by `max_wait`) at low load. The embedding recipe's micro-batcher and Triton's
`dynamic_batching { max_queue_delay_microseconds }` are implementations of exactly this policy; LLM servers go
further with *continuous* batching (see [backend considerations](../concepts/backend-considerations.md))."""),
]
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nb.metadata["cookbook"] = {"title": "Latency vs throughput with dynamic batching", "concept": "backend-considerations",
  "summary": "Discrete-event simulation of a batching server: p99 latency against throughput, Little's law checked."}
NotebookClient(nb, timeout=120, kernel_name="python3").execute()
nbf.write(nb, "notebooks/latency-vs-throughput.ipynb")
