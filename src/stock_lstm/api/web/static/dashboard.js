// The stock-lstm dashboard: reads only the app's public JSON API (see /docs) and /metrics.
// An endpoint that not every server has (the model registry) is used only when the server's
// OpenAPI document lists it, so the page never requests a path that answers 404.
"use strict";

const MAX_HISTORY_ROWS = 10000; // GET /api/v1/prices limit: the whole stored history
const METRICS_EVERY_MS = 5000;
const OWN_HISTORY_SHOWN = 250; // own-prices chart: the last closes drawn before the forecast

const state = {
  paths: new Set(), // paths of the server's OpenAPI document
  health: null,
  tickers: [],
  ticker: null,
  horizon: 5,
  history: null, // {ticker, dates, closes}
  model: null, // GET /api/v1/model
  backtest: null, // GET /api/v1/backtest
  monitoring: null, // GET /api/v1/monitoring
  drawSeq: 0, // the newest chart request; older answers are dropped
  lastMetrics: null, // {at, requests} of the previous /metrics poll
};

const $ = (id) => document.getElementById(id);

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function getJSON(url, options) {
  const response = await fetch(url, options);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = body && body.detail ? body.detail : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, detail);
  }
  return body;
}

function postJSON(url, payload) {
  return getJSON(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload),
  });
}

// --- small helpers ---------------------------------------------------------------------------

function fmt(value, digits = 2) {
  return value === null || value === undefined || Number.isNaN(value) ? "–" : Number(value).toFixed(digits);
}

function pct(value) {
  return value === null || value === undefined ? "–" : `${(100 * value).toFixed(1)}%`;
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function row(cells, className) {
  const tr = element("tr", null, className);
  for (const [text, numeric] of cells) tr.append(element("td", text, numeric ? "num" : undefined));
  return tr;
}

// Text with `code` spans, set safely (no HTML from the server is ever interpreted).
function setRichText(node, text) {
  node.replaceChildren();
  String(text)
    .split(/(`[^`]+`)/)
    .forEach((part) => {
      if (part.startsWith("`") && part.endsWith("`") && part.length > 1) node.append(element("code", part.slice(1, -1)));
      else if (part) node.append(document.createTextNode(part));
    });
}

function setMessage(id, text) {
  const node = $(id);
  node.hidden = !text;
  if (text) setRichText(node, text);
  else node.replaceChildren();
}

function notice(kind, lines) {
  const box = element("div", null, `notice ${kind}`);
  box.dataset.kind = kind;
  for (const line of lines.filter(Boolean)) {
    const p = element("p");
    setRichText(p, line);
    box.append(p);
  }
  $("notices").append(box);
}

// The report step (h1, h5, h30 ...) closest to the chosen horizon without exceeding it.
function stepKey(keys, horizon) {
  const steps = keys
    .map((key) => Number(String(key).replace(/^h/, "")))
    .filter((k) => Number.isFinite(k))
    .sort((a, b) => a - b);
  if (!steps.length) return null;
  const below = steps.filter((k) => k <= horizon);
  return `h${below.length ? below[below.length - 1] : steps[0]}`;
}

function readUrl() {
  const params = new URLSearchParams(window.location.search);
  const horizon = Number(params.get("horizon"));
  return {
    ticker: params.get("ticker") ? params.get("ticker").toUpperCase() : null,
    horizon: Number.isInteger(horizon) && horizon >= 1 && horizon <= 30 ? horizon : null,
  };
}

function writeUrl() {
  const params = new URLSearchParams();
  if (state.ticker) params.set("ticker", state.ticker);
  params.set("horizon", String(state.horizon));
  window.history.replaceState(null, "", `?${params}`);
}

// --- start -----------------------------------------------------------------------------------

async function start() {
  bindControls();
  const wanted = readUrl();
  if (wanted.horizon) setHorizon(wanted.horizon);

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

async function readHealth() {
  // /health answers 503 with the same body when degraded: read it either way.
  const response = await fetch("/health");
  return response.json();
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
    const file = event.target.files[0];
    if (file) $("own-prices").value = await file.text();
  });
}

// A chart request that failed (e.g. the database went down meanwhile): say so where the chart is.
function chartFailed(error) {
  setMessage("chart-message", error.message);
  $("chart").dataset.state = "error";
}

function setHorizon(horizon) {
  state.horizon = horizon;
  $("horizon").value = String(horizon);
  $("horizon-value").value = String(horizon);
  $("horizon-value").textContent = String(horizon);
}

// --- prices and forecast ---------------------------------------------------------------------

async function loadTickers(wanted) {
  const body = await getJSON("/api/v1/tickers");
  state.tickers = body.tickers.map((t) => t.ticker);
  const select = $("ticker");
  select.replaceChildren(...body.tickers.map((t) => new Option(`${t.ticker} (${t.first_date} – ${t.last_date})`, t.ticker)));
  select.disabled = !state.tickers.length;
  if (!state.tickers.length) {
    setMessage("chart-message", "No stored prices yet: run `make pipeline` to ingest the bundled snapshot.");
    return;
  }
  if (wanted && !state.tickers.includes(wanted)) {
    // Checked here, so the page never asks the API for a ticker it does not store.
    select.prepend(new Option(`${wanted} (unknown)`, "", true, true));
    select.value = "";
    state.ticker = null;
    setMessage(
      "chart-message",
      `Unknown ticker ${wanted}: it is not stored. Stored tickers: ${state.tickers.join(", ")}. Pick one above.`,
    );
    $("chart").dataset.state = "unknown-ticker";
    renderAccuracy();
    return;
  }
  state.ticker = wanted || (state.tickers.includes("MSFT") ? "MSFT" : state.tickers[0]);
  select.value = state.ticker;
  writeUrl();
  renderAccuracy();
  await showTicker();
}

async function showTicker() {
  const ticker = state.ticker;
  if (!ticker) return;
  const seq = ++state.drawSeq;
  $("chart").dataset.state = "loading";
  const body = await getJSON(`/api/v1/prices/${encodeURIComponent(ticker)}?limit=${MAX_HISTORY_ROWS}`);
  if (seq !== state.drawSeq) return;
  state.history = {
    ticker,
    dates: body.prices.map((p) => p.date),
    closes: body.prices.map((p) => p.close),
  };
  await showForecast();
}

async function showForecast() {
  const history = state.history;
  const horizon = state.horizon;
  const seq = ++state.drawSeq;
  let forecast = null;
  if (state.health.model_version) {
    forecast = await postJSON("/api/v1/predict", { ticker: history.ticker, horizon });
  }
  if (seq !== state.drawSeq) return; // a newer ticker or horizon was chosen meanwhile
  drawPriceChart(history, forecast, horizon);
}

function bandTraces(x, forecast, anchorX, anchorY) {
  const xs = [anchorX, ...x];
  const steps = forecast.predictions;
  const level = Math.round(100 * forecast.interval_level);
  return [
    {
      name: `${level}% band (upper)`,
      x: xs,
      y: [anchorY, ...steps.map((s) => s.upper)],
      mode: "lines",
      line: { width: 0, color: "rgba(214,69,69,0.25)" },
      showlegend: false,
      hoverinfo: "x+y",
    },
    {
      name: `${level}% band`,
      x: xs,
      y: [anchorY, ...steps.map((s) => s.lower)],
      mode: "lines",
      fill: "tonexty",
      fillcolor: "rgba(214,69,69,0.18)",
      line: { width: 0, color: "rgba(214,69,69,0.25)" },
      hoverinfo: "x+y",
    },
    {
      name: "forecast",
      x: xs,
      y: [anchorY, ...steps.map((s) => s.close)],
      mode: "lines+markers",
      line: { color: "#d64545", width: 2, dash: "dot" },
      marker: { size: 4 },
    },
  ];
}

// [low, high] of every trace's y between the dates `range` (all dates when null), padded 5%.
function visibleRange(traces, range) {
  const [from, to] = range ? range.map((d) => String(d).slice(0, 10)) : ["", "9999"];
  let low = Infinity;
  let high = -Infinity;
  for (const trace of traces) {
    for (let i = 0; i < trace.x.length; i += 1) {
      const day = String(trace.x[i]).slice(0, 10);
      if (day >= from && day <= to && trace.y[i] !== null) {
        low = Math.min(low, trace.y[i]);
        high = Math.max(high, trace.y[i]);
      }
    }
  }
  if (!Number.isFinite(low)) return undefined;
  const pad = Math.max((high - low) * 0.05, Math.abs(high) * 0.005);
  return [low - pad, high + pad];
}

function drawPriceChart(history, forecast, horizon) {
  const lastDate = history.dates[history.dates.length - 1];
  const lastClose = history.closes[history.closes.length - 1];
  const traces = [
    { name: "history", x: history.dates, y: history.closes, mode: "lines", line: { color: "#1f6feb", width: 1.5 } },
  ];
  let end = lastDate;
  if (forecast) {
    const dates = forecast.predictions.map((s) => s.date);
    traces.push(...bandTraces(dates, forecast, lastDate, lastClose));
    end = dates[dates.length - 1];
  }
  const startView = new Date(lastDate);
  startView.setMonth(startView.getMonth() - 6);
  const layout = {
    margin: { l: 50, r: 10, t: 10, b: 30 },
    legend: { orientation: "h", y: 1.12 },
    hovermode: "x unified",
    yaxis: { title: { text: `${history.ticker} close` }, fixedrange: false },
    xaxis: {
      type: "date",
      range: [startView.toISOString().slice(0, 10), end],
      rangeslider: { visible: true, thickness: 0.08, yaxis: { rangemode: "auto" } },
      rangeselector: {
        buttons: [
          { count: 3, label: "3m", step: "month", stepmode: "backward" },
          { count: 1, label: "1y", step: "year", stepmode: "backward" },
          { count: 5, label: "5y", step: "year", stepmode: "backward" },
          { step: "all", label: "all" },
        ],
      },
    },
  };
  layout.yaxis.range = visibleRange(traces, layout.xaxis.range);
  const chart = $("chart");
  chart.dataset.state = "drawing";
  Plotly.react(chart, traces, layout, { responsive: true, displaylogo: false });
  if (!chart.dataset.fitsY) {
    // Plotly scales y to all the data; refit it to the dates in view after every zoom.
    chart.dataset.fitsY = "yes";
    chart.on("plotly_relayout", (change) => {
      const keys = Object.keys(change);
      if (!keys.some((k) => k.startsWith("xaxis"))) return;
      const range = change["xaxis.autorange"] ? null : chart.layout.xaxis.range;
      Plotly.relayout(chart, { "yaxis.range": visibleRange(chart.data, range) });
    });
  }
  chart.dataset.ticker = history.ticker;
  chart.dataset.horizon = forecast ? String(horizon) : "";
  chart.dataset.state = forecast ? "forecast" : "history";
  const summary = $("forecast-summary");
  if (!forecast) {
    summary.textContent = `${history.ticker}: ${history.dates.length} stored closes to ${lastDate}. No forecast: no trained model.`;
    return;
  }
  const last = forecast.predictions[forecast.predictions.length - 1];
  summary.textContent =
    `${history.ticker}: last close ${fmt(lastClose)} on ${lastDate}; in ${horizon} business day(s), ${last.date}: ` +
    `${fmt(last.close)} (${Math.round(100 * forecast.interval_level)}% band ${fmt(last.lower)} – ${fmt(last.upper)}). ` +
    `Model ${forecast.model_version}.`;
}

// --- forecast my own prices ------------------------------------------------------------------

// Closes from pasted text: a CSV with a header (the `close` column, else the last one) or any
// list of numbers. A token that is not a number is sent as it is, so the API names it.
function parseCloses(text) {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (!lines.length) return [];
  const header = lines[0].split(/[,;\t]/).map((c) => c.trim().toLowerCase().replace(/^"|"$/g, ""));
  const isHeader = lines.length > 1 && header.length > 1 && header.some((c) => c && Number.isNaN(Number(c)));
  let tokens;
  if (isHeader) {
    let column = header.indexOf("close");
    if (column < 0) column = header.findIndex((c) => c.includes("close"));
    if (column < 0) column = header.length - 1;
    tokens = lines.slice(1).map((l) => (l.split(/[,;\t]/)[column] || "").trim());
  } else {
    tokens = text.split(/[\s,;]+/).filter(Boolean);
  }
  return tokens.map((token) => {
    const value = Number(token);
    return token !== "" && Number.isFinite(value) ? value : token;
  });
}

async function forecastOwnPrices() {
  const field = $("own-prices");
  const horizon = Number($("own-horizon").value);
  const prices = parseCloses(field.value);
  setMessage("own-error", null);
  field.removeAttribute("aria-invalid");
  let forecast;
  try {
    forecast = await postJSON("/api/v1/predict", { prices, horizon: Number.isInteger(horizon) ? horizon : $("own-horizon").value });
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    setMessage("own-error", error.message);
    field.setAttribute("aria-invalid", "true");
    return;
  }
  const shown = prices.slice(-OWN_HISTORY_SHOWN);
  const x = shown.map((_, i) => i - shown.length + 1); // 0 = your last close
  const steps = forecast.predictions.map((s) => s.step);
  const traces = [
    { name: "your closes", x, y: shown, mode: "lines", line: { color: "#1f6feb", width: 1.5 } },
    ...bandTraces(steps, forecast, 0, shown[shown.length - 1]),
  ];
  const chart = $("own-chart");
  chart.dataset.state = "drawing";
  Plotly.react(
    chart,
    traces,
    {
      margin: { l: 50, r: 10, t: 10, b: 40 },
      legend: { orientation: "h", y: 1.15 },
      xaxis: { title: { text: "trading days from your last close" } },
    },
    { responsive: true, displaylogo: false },
  );
  chart.dataset.horizon = String(forecast.horizon);
  chart.dataset.state = "forecast";
}

// --- accuracy --------------------------------------------------------------------------------

async function loadBacktest() {
  state.backtest = await getJSON("/api/v1/backtest");
  renderAccuracy();
}

async function loadMonitoring() {
  state.monitoring = await getJSON("/api/v1/monitoring");
  renderAccuracy();
}

function explainNoMonitoring(databaseUp) {
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
function renderAccuracy() {
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
}

// Each model's MAE ratio to the naive forecast with its spread over the folds; 1 = naive.
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
        marker: { size: 10, color: shown.map((r) => (["naive", "drift"].includes(r.model) ? "#9aa5b4" : "#1f6feb")) },
        hovertemplate: "%{y}: %{x:.3f}<extra></extra>",
      },
    ],
    {
      margin: { l: 70, r: 10, t: 5, b: 40 },
      xaxis: { title: { text: "MAE ÷ naive MAE (mean ± sd over folds)" }, zeroline: false },
      shapes: [{ type: "line", x0: 1, x1: 1, yref: "paper", y0: 0, y1: 1, line: { dash: "dot", color: "#5b6574" } }],
      showlegend: false,
    },
    { responsive: true, displaylogo: false, staticPlot: false },
  );
  chart.dataset.state = "drawn";
}

// --- model card ------------------------------------------------------------------------------

function explainNoModelCard(hasModel) {
  setMessage(
    "model-message",
    hasModel ? "The model card needs the database (model_versions), which is unavailable." : "No trained model yet: run `make pipeline`.",
  );
}

async function loadModelCard() {
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

function renderModelMetrics() {
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
async function loadRegistryHistory() {
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

// --- service health --------------------------------------------------------------------------

function renderServiceStatus() {
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

async function pollMetrics() {
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

// Charts redraw on resize (Plotly's `responsive`); the page starts once Plotly is loaded (defer).
start().catch((error) => {
  notice("bad", [`The dashboard could not load: ${error.message}`]);
});
