// The prices-and-forecast panel: a stored ticker's closes and the forecast with its band.

import { getJSON, postJSON } from "./api.js";
import { renderAccuracy } from "./accuracy.js";
import { state, writeUrl } from "./state.js";
import { $, fmt, setMessage } from "./ui.js";

const MAX_HISTORY_ROWS = 10000; // GET /api/v1/prices limit: the whole stored history

// A chart request that failed (e.g. the database went down meanwhile): say so where the chart is.
export function chartFailed(error) {
  setMessage("chart-message", error.message);
  $("chart").dataset.state = "error";
}

export function setHorizon(horizon) {
  state.horizon = horizon;
  $("horizon").value = String(horizon);
  $("horizon-value").value = String(horizon);
  $("horizon-value").textContent = String(horizon);
}

export async function loadTickers(wanted) {
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

export async function showTicker() {
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

export async function showForecast() {
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

export function bandTraces(x, forecast, anchorX, anchorY) {
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

// Stored closes shown before the forecast at first: three times the horizon, at least 20, so
// the forecast spans about a quarter of the chart (a fifth at short horizons).
export function defaultViewRows(horizon) {
  return Math.max(20, 3 * horizon);
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
  // The default view: the last DEFAULT_VIEW_ROWS(horizon) stored closes and the forecast, so the
  // forecast and its band take a readable share of the width (the buttons widen the view).
  const first = Math.max(0, history.dates.length - defaultViewRows(horizon));
  const layout = {
    margin: { l: 50, r: 10, t: 10, b: 30 },
    legend: { orientation: "h", y: 1.12 },
    hovermode: "x unified",
    yaxis: { title: { text: `${history.ticker} close` }, fixedrange: false },
    xaxis: {
      type: "date",
      range: [history.dates[first], end],
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
