// The stock-lstm dashboard: reads only the app's public JSON API (see /docs) and /metrics.
// An endpoint that not every server has (the model registry) is used only when the server's
// OpenAPI document lists it, so the page never requests a path that answers 404.
// One ES module per panel (no build step); this one starts the page and binds its controls.

import {
  explainNoMonitoring,
  loadBacktest,
  loadMonitoring,
  renderAccuracy,
} from "./accuracy.js";
import { getJSON, readHealth } from "./api.js";
import { chartFailed, loadTickers, setHorizon, showForecast, showTicker } from "./forecast.js";
import { pollMetrics, renderServiceStatus } from "./health.js";
import {
  explainNoModelCard,
  loadModelCard,
  loadRegistryHistory,
  renderModelMetrics,
} from "./model-card.js";
import { forecastOwnPrices } from "./own-prices.js";
import { readUrl, state, writeUrl } from "./state.js";
import { $, notice, setMessage } from "./ui.js";

const METRICS_EVERY_MS = 5000;

async function start() {
  bindControls();
  const wanted = readUrl();
  if (wanted.horizon) setHorizon(wanted.horizon);
  if (wanted.invalidHorizon !== null) {
    notice("warn", [
      `The address asked for horizon ${JSON.stringify(wanted.invalidHorizon)}, which is not a whole number of business days from 1 to 30: showing ${state.horizon} instead.`,
    ]);
  }

  const openapi = await getJSON("/openapi.json");
  state.paths = new Set(Object.keys(openapi.paths || {}));
  state.health = await readHealth();
  renderServiceStatus();
  const refreshMetrics = () => pollMetrics().catch(() => ($("health-facts").dataset.state = "stale"));
  refreshMetrics();
  setInterval(refreshMetrics, METRICS_EVERY_MS);

  const hasModel = Boolean(state.health.model_version);
  const databaseUp = state.health.database === "ok";
  if (!hasModel) {
    const reason = state.health.reasons.find((r) => !r.startsWith("database")) || "";
    notice("warn", [
      "No trained model yet: run `make pipeline`, then reload this page (or `POST /api/v1/model/reload`).",
      reason ? `The service says: ${reason}` : "",
    ]);
  }
  if (!databaseUp) {
    notice("bad", [
      "The database is unavailable: stored tickers, their prices and forecasts, and the model card cannot be read now.",
      `Still working: ${hasModel ? "forecasts of your own prices, " : ""}the backtest leaderboard and service health. The service reconnects by itself.`,
    ]);
    $("ticker").disabled = true;
    setMessage("chart-message", "Stored prices cannot be read while the database is unavailable: reload this page later.");
  }
  $("own-submit").disabled = !hasModel;
  if (!hasModel) setMessage("own-error", null);

  // The model card first: its max_horizon bounds the horizon controls before any forecast.
  // Each panel reports its own failure where it would have shown its content.
  if (hasModel && databaseUp) await loadModelCard().catch((error) => setMessage("model-message", error.message));
  else explainNoModelCard(hasModel);
  await Promise.all([
    loadBacktest().catch((error) => setMessage("backtest-message", error.message)),
    state.paths.has("/api/v1/monitoring") && databaseUp
      ? loadMonitoring().catch((error) => setMessage("realized-message", error.message))
      : explainNoMonitoring(databaseUp),
    state.paths.has("/api/v1/models") && databaseUp
      ? loadRegistryHistory().catch((error) => setMessage("model-message", `Registry history: ${error.message}`))
      : null,
    databaseUp ? loadTickers(wanted.ticker).catch(chartFailed) : null,
  ]);
}

function bindControls() {
  $("ticker").addEventListener("change", (event) => {
    state.ticker = event.target.value;
    writeUrl();
    setMessage("chart-message", null);
    renderAccuracy();
    renderModelMetrics();
    showTicker().catch(chartFailed);
  });
  $("horizon").addEventListener("input", (event) => setHorizon(Number(event.target.value)));
  $("horizon").addEventListener("change", () => {
    writeUrl();
    if (state.history) showForecast().catch(chartFailed);
    renderAccuracy();
    renderModelMetrics();
  });
  $("own-form").addEventListener("submit", (event) => {
    event.preventDefault();
    forecastOwnPrices().catch((error) => setMessage("own-error", error.message));
  });
  $("own-file").addEventListener("change", async (event) => {
    const input = event.target;
    const file = input.files[0];
    if (file) $("own-prices").value = await file.text();
    // Forget the choice, so choosing the same file again (after editing it) reads it again.
    input.value = "";
  });
}

// Charts redraw on resize (Plotly's `responsive`); the page starts once Plotly is loaded (module scripts run after the deferred Plotly script).
start().catch((error) => {
  notice("bad", [`The dashboard could not load: ${error.message}`]);
});
