// The accuracy panel: the walk-forward backtest leaderboard and the champion's realized accuracy.

import { getJSON } from "./api.js";
import { hideSignificance, renderSignificance } from "./significance.js";
import { state } from "./state.js";
import { $, fmt, pct, row, setMessage, stepKey } from "./ui.js";

export async function loadBacktest() {
  state.backtest = await getJSON("/api/v1/backtest");
  renderAccuracy();
}

export async function loadMonitoring() {
  state.monitoring = await getJSON("/api/v1/monitoring");
  renderAccuracy();
}

export function explainNoMonitoring(databaseUp) {
  setMessage(
    "realized-message",
    databaseUp
      ? "This server offers no monitoring (GET /api/v1/monitoring)."
      : "Realized accuracy cannot be read while the database is unavailable.",
  );
  return null;
}

// The accuracy panel: the backtest leaderboard, then the champion's realized accuracy from the
// daily monitoring loop (GET /api/v1/monitoring).
export function renderAccuracy() {
  renderBacktest();
  renderRealized();
}

function renderRealized() {
  const monitoring = state.monitoring;
  const table = $("realized-table");
  if (!monitoring) return;
  const names = Object.keys(monitoring.tickers);
  if (!monitoring.model_version || !names.length) {
    // The normal state before the first `make daily`: an empty monitoring history.
    setMessage("realized-message", monitoring.message || "Empty monitoring history: run `make daily`.");
    table.hidden = true;
    return;
  }
  const first = Object.values(monitoring.tickers)[0].realized.window;
  $("realized-caption").textContent =
    `Model ${monitoring.model_version}, last ${first} trading days to ${monitoring.as_of}. Ratio below 1 beats the naive forecast; drift compares recent returns with the training period.`;
  setMessage("realized-message", null);
  table.tBodies[0].replaceChildren(
    ...names.map((name) => {
      const figures = monitoring.tickers[name];
      const r = figures.realized;
      return row(
        [
          [name],
          [String(r.n), true],
          [fmt(r.mae), true],
          [fmt(r.mae_ratio, 3), true],
          [pct(r.coverage), true],
          [figures.drift.flag ? `drifted (KS ${fmt(figures.drift.ks)}, PSI ${fmt(figures.drift.psi)})` : "no"],
        ],
        name === state.ticker ? "current" : figures.drift.flag ? "drifted" : undefined,
      );
    }),
  );
  table.dataset.state = "figures";
  table.hidden = false;
}

function hideLeaderboard() {
  $("leaderboard").hidden = true;
  hideSignificance();
  const chart = $("leaderboard-chart");
  if (chart.dataset.state !== "empty") Plotly.purge(chart);
  chart.dataset.state = "empty";
}

function renderBacktest() {
  const backtest = state.backtest;
  const table = $("leaderboard");
  if (!backtest) return;
  if (!backtest.available) {
    setMessage("backtest-message", backtest.message);
    hideLeaderboard();
    return;
  }
  const perTicker = state.ticker ? backtest.leaderboard[state.ticker] : null;
  if (!perTicker) {
    setMessage(
      "backtest-message",
      state.ticker ? `No backtest of ${state.ticker} in the report: run \`make backtest\` with it.` : "Pick a stored ticker.",
    );
    hideLeaderboard();
    return;
  }
  const key = stepKey(Object.keys(perTicker), state.horizon);
  const folds = backtest.folds || [];
  const span = folds.length ? `, ${folds[0].test_start} to ${folds[folds.length - 1].test_end}` : "";
  $("leaderboard-caption").textContent =
    `${state.ticker}, ${key.slice(1)} business day(s) ahead, ${folds.length} fold(s)${span}. Ratio below 1 beats the naive forecast.`;
  setMessage("backtest-message", null);
  const rows = [...perTicker[key]].sort((a, b) => (a.rank ?? 99) - (b.rank ?? 99));
  table.tBodies[0].replaceChildren(
    ...rows.map((r) =>
      row(
        [
          [r.rank ?? "–", true],
          [r.model],
          [r.mae_ratio ? `${fmt(r.mae_ratio.mean, 3)} ± ${fmt(r.mae_ratio.std, 3)}` : "–", true],
          [pct(r.coverage), true],
          [fmt(r.winkler), true],
        ],
        ["naive", "drift"].includes(r.model) ? "baseline" : undefined,
      ),
    ),
  );
  table.hidden = false;
  drawLeaderboardChart(rows);
  renderSignificance(backtest, state.ticker, key);
}

// Each model's MAE ratio to the naive forecast with its spread over the folds; 1 = naive. One
// trace holds every dot; the legend's entries say which colour is a network, which a baseline,
// and what the dotted line is.
const BASELINES = ["naive", "drift"];
const NETWORK_COLOUR = "#1f6feb";
const BASELINE_COLOUR = "#9aa5b4";

function legendEntry(name, mode, style) {
  return { name, type: "scatter", mode, x: [null], y: [null], hoverinfo: "skip", ...style };
}

function drawLeaderboardChart(rows) {
  const shown = rows.filter((r) => r.mae_ratio && r.mae_ratio.mean !== null).reverse();
  const chart = $("leaderboard-chart");
  chart.dataset.state = "drawing"; // sized by CSS before Plotly measures it
  Plotly.react(
    chart,
    [
      {
        name: "MAE ÷ naive",
        type: "scatter",
        mode: "markers",
        y: shown.map((r) => r.model),
        x: shown.map((r) => r.mae_ratio.mean),
        error_x: { type: "data", array: shown.map((r) => r.mae_ratio.std || 0), visible: true },
        marker: { size: 10, color: shown.map((r) => (BASELINES.includes(r.model) ? BASELINE_COLOUR : NETWORK_COLOUR)) },
        hovertemplate: "%{y}: %{x:.3f}<extra></extra>",
        showlegend: false,
      },
      legendEntry("network (mean ± sd over folds)", "markers", { marker: { size: 10, color: NETWORK_COLOUR } }),
      legendEntry("baseline", "markers", { marker: { size: 10, color: BASELINE_COLOUR } }),
      legendEntry("1 = naive", "lines", { line: { dash: "dot", color: "#5b6574" } }),
    ],
    {
      margin: { l: 70, r: 10, t: 30, b: 40 },
      xaxis: { title: { text: "MAE ÷ naive MAE (mean ± sd over folds)" }, zeroline: false },
      shapes: [{ type: "line", x0: 1, x1: 1, yref: "paper", y0: 0, y1: 1, line: { dash: "dot", color: "#5b6574" } }],
      showlegend: true,
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", font: { size: 11 } },
    },
    { responsive: true, displaylogo: false, staticPlot: false },
  );
  chart.dataset.state = "drawn";
}
