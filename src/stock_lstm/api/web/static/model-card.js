// The model-card panel: the serving model, its test metrics and the registry's history.

import { getJSON } from "./api.js";
import { setHorizon } from "./forecast.js";
import { state } from "./state.js";
import { $, element, fmt, pct, row, setMessage, stepKey } from "./ui.js";

export function explainNoModelCard(hasModel) {
  setMessage(
    "model-message",
    hasModel ? "The model card needs the database (model_versions), which is unavailable." : "No trained model yet: run `make pipeline`.",
  );
}

export async function loadModelCard() {
  const model = await getJSON("/api/v1/model");
  state.model = model;
  const maxHorizon = model.serving.max_horizon;
  for (const id of ["horizon", "own-horizon"]) $(id).max = String(maxHorizon);
  if (state.horizon > maxHorizon) setHorizon(maxHorizon);
  const facts = $("model-facts");
  const data = model.data_version;
  const entries = [
    ["version", model.model_version],
    ["model type", model.model_type || "LSTM"],
    ["trained at", model.trained_at],
    ["data version", data ? `#${data.id} (${data.stage}, ${data.row_count} rows, ${data.created_at})` : "–"],
    ["window", `${model.serving.min_history - 1} days`],
    ["interval", `${Math.round(100 * model.serving.interval_level)}% band, horizon 1–${model.serving.max_horizon}`],
  ];
  facts.replaceChildren(...entries.flatMap(([term, value]) => [element("dt", term), element("dd", value)]));
  renderModelMetrics();
}

export function renderModelMetrics() {
  const model = state.model;
  const table = $("model-metrics");
  const tickers = model && model.metrics && model.metrics.tickers;
  if (!tickers || !Object.keys(tickers).length) {
    table.hidden = true;
    return;
  }
  const first = Object.values(tickers)[0];
  const key = stepKey(Object.keys(first).filter((k) => /^h\d+$/.test(k)), state.horizon);
  $("model-metrics-caption").textContent =
    `Test split, ${key.slice(1)} business day(s) ahead: MAE in price units next to the naive forecast's.`;
  table.tBodies[0].replaceChildren(
    ...Object.entries(tickers).map(([ticker, entry]) => {
      const m = entry[key];
      return row(
        [
          [ticker],
          [fmt(m.lstm.mae), true],
          [fmt(m.naive.mae), true],
          [fmt(m.mae_ratio, 4), true],
          [pct(m.interval && m.interval.coverage), true],
        ],
        ticker === state.ticker ? "selected" : undefined,
      );
    }),
  );
  table.hidden = false;
}

// The model registry's history (GET /api/v1/models): the champion and every status change with
// its reason. Called only when the server's OpenAPI document lists that endpoint and the
// database (where the registry lives) is up.
export async function loadRegistryHistory() {
  const registry = await getJSON("/api/v1/models");
  // Newest first; of changes at the same moment, the later one in the answer first.
  const events = [...(registry.events || [])].reverse().sort((a, b) => String(b.at).localeCompare(String(a.at)));
  $("registry-events").tBodies[0].replaceChildren(
    ...events.map((e) =>
      row(
        [[e.at], [e.model_version], [`${e.from_status || "–"} → ${e.to_status}`], [e.reason || ""], [e.actor || ""]],
        e.model_version === registry.champion ? "selected" : undefined,
      ),
    ),
  );
  $("registry-title").textContent = `Registry history (champion: ${registry.champion || "none"})`;
  $("registry").hidden = false;
}
