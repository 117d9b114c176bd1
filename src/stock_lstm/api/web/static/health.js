// The service-health panel and the status badge: /health at page load, then /metrics.

import { state } from "./state.js";
import { $, element, fmt, setRichText } from "./ui.js";

export function renderServiceStatus() {
  const health = state.health;
  const badge = $("service-status");
  badge.className = `badge ${health.status}`;
  setRichText(badge, health.status === "ok" ? "service ok" : `degraded: ${health.reasons.join("; ")}`);
}

// Prometheus text format: {name: [{labels, value}]}.
function parsePrometheus(text) {
  const series = {};
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = line.match(/^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/);
    if (!match) continue;
    const labels = {};
    for (const pair of (match[3] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    (series[match[1]] ||= []).push({ labels, value: Number(match[4]) });
  }
  return series;
}

function total(series, name) {
  return (series[name] || []).reduce((sum, s) => sum + s.value, 0);
}

// histogram_quantile as Prometheus computes it: linear inside the bucket that holds the rank.
function histogramQuantile(q, buckets) {
  const sorted = buckets
    .map((b) => ({ le: b.labels.le === "+Inf" ? Infinity : Number(b.labels.le), count: b.value }))
    .sort((a, b) => a.le - b.le);
  const count = sorted.length ? sorted[sorted.length - 1].count : 0;
  if (!count) return null;
  const rank = q * count;
  let lower = 0;
  let below = 0;
  for (const bucket of sorted) {
    if (bucket.count >= rank) {
      if (bucket.le === Infinity) return lower;
      return lower + ((bucket.le - lower) * (rank - below)) / Math.max(bucket.count - below, 1e-12);
    }
    lower = bucket.le;
    below = bucket.count;
  }
  return lower;
}

export async function pollMetrics() {
  const response = await fetch("/metrics");
  const series = parsePrometheus(await response.text());
  const now = Date.now() / 1000;
  const requests = total(series, "http_requests_total");
  let rate;
  if (state.lastMetrics) {
    rate = (requests - state.lastMetrics.requests) / Math.max(now - state.lastMetrics.at, 1e-3);
  } else {
    const started = total(series, "process_start_time_seconds");
    rate = started ? requests / Math.max(now - started, 1e-3) : null;
  }
  state.lastMetrics = { at: now, requests };
  const buckets = series.http_request_duration_highr_seconds_bucket || [];
  const p50 = histogramQuantile(0.5, buckets);
  const p99 = histogramQuantile(0.99, buckets);
  const memory = total(series, "process_resident_memory_bytes");
  const health = state.health;
  const served = (series.stock_lstm_model_info || []).find((s) => s.value === 1);
  const entries = [
    ["status (at page load)", health.status],
    ["database (at page load)", health.database],
    ["model served", served ? served.labels.model_version : "none"],
    ["requests", `${requests} since start, ${fmt(rate, 2)} per second now`],
    ["latency p50 / p99", p50 === null ? "no request yet" : `${fmt(1000 * p50, 1)} / ${fmt(1000 * p99, 1)} ms (since start)`],
    ["memory (resident)", memory ? `${fmt(memory / 2 ** 20, 0)} MiB` : "–"],
    ["forecasts served", String(total(series, "stock_lstm_forecasts_served_total"))],
  ];
  $("health-facts").replaceChildren(...entries.flatMap(([term, value]) => [element("dt", term), element("dd", value)]));
  $("health-facts").dataset.state = "ready";
}
