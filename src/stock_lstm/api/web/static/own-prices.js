// The own-prices panel: a forecast of closes the user pastes or uploads.

import { ApiError, postJSON } from "./api.js";
import { bandTraces } from "./forecast.js";
import { $, setMessage } from "./ui.js";

const OWN_HISTORY_SHOWN = 250; // own-prices chart: the last closes drawn before the forecast

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

export async function forecastOwnPrices() {
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
